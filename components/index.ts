/**
 * PUG's public API: what another stack imports from the package, and nothing else.
 *
 *     import { PugPlatform, parseUserList, type UserSource } from "pug-grafana";
 *
 * This file is the package's entry point (package.json `exports`, built to dist/index.js). The
 * rest of components/ is internal: PUG's own stack program imports it module by module, and it
 * may change without notice. Every name here is a promise to importers, so the list is short and
 * test/publicApi.test.ts holds a copy of it: adding or removing an export means updating both.
 * The types are PUG's own: none exposes a zod type (see tsconfig.build.json).
 */

// The components, and their arguments.
export { PugPlatform, type PugPlatformArgs } from "./pugPlatform";
export { GrafanaTenant, type GrafanaTenantArgs, DEFAULT_GRAFANA_IMAGE } from "./grafanaTenant";
export { GrafanaImage, type GrafanaImageArgs } from "./grafanaImage";
export { TenantDatabase, type TenantDatabaseArgs } from "./tenantDatabase";
export { Swarm, type SwarmArgs } from "./swarm";
export { SwarmNodes, type SwarmNodesArgs } from "./swarmNodes";
export { LiveRedis, type LiveRedisArgs, type LiveRedisSettings } from "./liveRedis";
export { EmbeddedMysql, type EmbeddedMysqlArgs, type EmbeddedMysqlSettings } from "./embeddedMysql";
export { FrontProxy, type FrontProxyArgs, type FrontProxySettings, type ProxyJwt } from "./frontProxy";
export { Monitoring, type MonitoringArgs, type MonitoringSettings } from "./monitoring";

// The types those arguments are made of, for stacks that build them in code.
export type { ExternalMysqlSettings, ExternalRedisSettings, GrafanaDefaults, MysqlSettings, ProxyJwtSettings, ProxySettings, RedisSettings } from "./pugPlatform";
export type { GrafanaServiceSettings } from "./grafanaTenant";
export type { RegistrySettings } from "./grafanaImage";
export type { ReleaseChannel } from "./specs/releaseChannels";
export type { SwarmNode } from "./swarmNodes";
export type { UrlMode } from "./specs/naming";
export type { Datasource } from "./specs/datasources";

// Users: where the list comes from and how it is validated (the same rules as PUG's own stack).
export { parseUserList, type UserListOptions, type UserRecord } from "./users/users";
export { loadUsers, type UserSource, InlineUserSource, FileUserSource, HttpUserSource, type HttpUserSourceArgs, UserSourceError } from "./users/userSources";
export { InvalidInputError } from "./validation";
