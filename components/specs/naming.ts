import { createHash } from "crypto";

/**
 * Names shared by every component. They are part of the contract between components: the proxy
 * reaches a user's Grafana by its service name over the overlay network, so both sides call the
 * same function instead of rebuilding the string.
 */

/** The Swarm service (and DNS name on the overlay network) of a user's Grafana. */
export function tenantServiceName(userId: string): string {
    return `grafana-${userId}`;
}

/** The MySQL database and DB user of a user's Grafana (MySQL names allow no dashes unquoted). */
export function tenantDatabaseName(userId: string): string {
    return `grafana_${userId.replace(/-/g, "_")}`;
}

/** MySQL's limit on user names (5.7.8 and later; MariaDB allows 80). */
export const MYSQL_USER_MAX_LENGTH = 32;

/**
 * The shape of a shortened MySQL user: `grafana_`, 11 characters of the id, `_`, 12 hex digits of
 * the hash. A plain database name of 32 characters can have this shape too (an id of 24
 * characters whose 12th is a dash and whose last 12 are hex digits).
 */
const SHORTENED_DATABASE_USER = /^grafana_[a-z0-9_]{11}_[0-9a-f]{12}$/;

/**
 * The MySQL user of a user's Grafana: the database name, or, when that is longer than MySQL
 * accepts for a user name (ids over 24 characters), its start and a hash of the whole.
 *
 * Distinct ids get distinct users by construction: plain names are used only when they cannot be
 * mistaken for a shortened one, so the two sets never meet (plain names are distinct because ids
 * are; shortened ones differ unless 48 bits of SHA-256 collide). An id that imitates a shortened
 * name (`abcdefghijk-d183ef5ea7f4` looks like the user of `abcdefghijk-lmnopqrstuvwxyz`) is
 * shortened itself. That is the only change from the earlier rule, on purpose: renaming a DB user
 * replaces it (Grafana loses access until the service rolls) and every other id keeps the name
 * its existing user was created with.
 */
export function tenantDatabaseUser(userId: string): string {
    const name = tenantDatabaseName(userId);
    if (name.length <= MYSQL_USER_MAX_LENGTH && !SHORTENED_DATABASE_USER.test(name)) return name;
    const hash = contentHash(name);
    return `${name.slice(0, MYSQL_USER_MAX_LENGTH - hash.length - 1)}_${hash}`;
}

/**
 * The prefix of a user's keys and channels in the shared Redis, for Live and for alerting.
 * Distinct per user: two Grafanas sharing a Redis without it share Live channels (every standalone
 * Grafana is org 1), which would leak one user's events to another.
 */
export function tenantRedisPrefix(userId: string): string {
    return `pug-${userId}`;
}

/**
 * Where users' Grafanas are served. `path` (the default, the URLs users know):
 * `https://DOMAIN/<id>/grafana/`, every user under one browser origin. `subdomain`:
 * `https://<id>.DOMAIN/`, one origin per user, so the browser itself keeps one user's pages from
 * another's (needs a wildcard DNS name and certificate).
 */
export type UrlMode = "path" | "subdomain";

/** The public host (with DOMAIN's port, if it has one) of a user's Grafana. */
export function tenantHost(domain: string, userId: string, mode: UrlMode = "path"): string {
    return mode === "subdomain" ? `${userId}.${domain}` : domain;
}

/** The public path a user's Grafana is served under, with both slashes. */
export function tenantPath(userId: string, mode: UrlMode = "path"): string {
    return mode === "subdomain" ? "/" : `/${userId}/grafana/`;
}

/** The public URL of a user's Grafana; also Grafana's root_url. */
export function tenantUrl(domain: string, userId: string, mode: UrlMode = "path"): string {
    return `https://${tenantHost(domain, userId, mode)}${tenantPath(userId, mode)}`;
}

/** The header a user's Grafana reads the platform's JWT from ([auth.jwt] header_name), unless configured otherwise. */
export const DEFAULT_JWT_HEADER = "X-JWT-Assertion";

/**
 * The name prefix of one of a user's Docker secrets or configs. Short on purpose: with a 40-character
 * id and the content hash it stays within Docker's 64 characters, so `dockerObjectName` never has
 * to cut it and every name reads as whose and what it is.
 */
export function tenantObjectName(userId: string, purpose: "db" | "admin" | "key" | "ds"): string {
    return `pug-${userId}-${purpose}`;
}

/**
 * The audience a platform JWT must name to open a user's Grafana (front proxy in jwt mode). Each
 * user's Grafana expects its own, so a token issued for one user is refused by every other's.
 */
export function tenantJwtAudience(userId: string): string {
    return `pug:grafana:${userId}`;
}

/** A short, stable digest of some content: names immutable Docker secrets and configs. */
export function contentHash(content: string): string {
    return createHash("sha256").update(content).digest("hex").slice(0, 12);
}
