/** A user's Grafana environment spec as the platform would pass it, for tests of grafanaEnvironment. */
export const ACME_ENVIRONMENT_SPEC = {
    userId: "acme",
    domain: "metrics.example.com",
    databaseHost: "pug-mysql:3306",
    databaseName: "grafana_acme",
    databaseUser: "grafana_acme",
    redisAddress: "pug-live-redis:6379",
    liveMaxConnections: 200,
};
