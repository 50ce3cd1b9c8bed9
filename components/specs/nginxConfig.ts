import { NginxConfFile } from "nginx-conf";
import { DEFAULT_JWT_HEADER, tenantServiceName } from "./naming";
import { USER_ID_PATTERN } from "../users/users";

/**
 * The front proxy's nginx.conf, built from plain data by small pure functions and rendered by the
 * `nginx-conf` package. The same builder serves the FrontProxy component, the tests that run it in
 * real nginx, and the benchmarks.
 *
 * Routing rule, the one isolation rests on: the user is the first segment of the path *exactly as
 * the client sent it* (`$request_uri`, never nginx's decoded and normalised `$uri`), and it selects
 * an upstream only through a map whose entries come from the user list. So `..`, `%2e%2e`, `%2F`,
 * doubled slashes, another case or a dot cannot make a request that a browser scopes to one user's
 * path (and sends that user's cookies with) reach another user's Grafana, and no request can make
 * nginx resolve a name it built from the path.
 */

/** One directive: a name, its arguments (bare tokens, or strings made by `quoted`), and for a block its children. */
export interface NginxDirective {
    name: string;
    args: string[];
    children?: NginxDirective[];
}

/** A simple directive: `name args...;`. */
export function directive(name: string, ...args: string[]): NginxDirective {
    return { name, args };
}

/** A block: `name args... { children }`. */
export function block(name: string, args: string[], children: NginxDirective[]): NginxDirective {
    return { name, args, children };
}

/** An argument as an nginx double-quoted string (nginx unescapes `\\` and `\"` inside one). */
export function quoted(value: string): string {
    return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export const BARE_TOKEN = /^[^\s;{}"'#\\]+$/;
const QUOTED_TOKEN = /^"(?:[^"\\]|\\.)*"$/;

/**
 * Renders directives as nginx.conf text through nginx-conf. Two things nginx-conf would do silently
 * are refused instead: an argument that is neither a bare token nor `quoted` (it would split or
 * end the directive), and a block where directives of one name are not adjacent (nginx-conf writes
 * same-named directives together, which would reorder them).
 */
export function renderNginxConfig(directives: NginxDirective[]): string {
    let file: NginxConfFile | undefined;
    NginxConfFile.createFromSource("", (err, conf) => {
        if (err || !conf) throw err ?? new Error("nginx-conf could not create an empty file");
        file = conf;
    });
    addAll(file!.nginx, directives, "main");
    return file!.toString();
}

function addAll(parent: NginxConfFile["nginx"], directives: NginxDirective[], where: string): void {
    const seen = new Set<string>();
    let previous: string | undefined;
    for (const d of directives) {
        if (d.name !== previous && seen.has(d.name)) {
            throw new Error(`nginx config: in ${where}, "${d.name}" directives must be adjacent (nginx-conf groups them by name)`);
        }
        for (const arg of [d.name, ...d.args]) {
            if (!BARE_TOKEN.test(arg) && !QUOTED_TOKEN.test(arg)) throw new Error(`nginx config: in ${where}, argument ${JSON.stringify(arg)} of "${d.name}" must be quoted`);
        }
        seen.add(d.name);
        previous = d.name;
        parent._add(d.name, d.args.join(" "), d.children ? [] : null);
        if (d.children) {
            const siblings = parent[d.name]!;
            addAll(siblings[siblings.length - 1], d.children, `${where} > ${[d.name, ...d.args].join(" ")}`);
        }
    }
}

/** Header in which the platform's auth endpoint returns the signed token, unless configured otherwise. */
export const DEFAULT_TOKEN_HEADER = "X-Pug-Token";
/** Header that tells the auth endpoint whose Grafana is requested (the token's audience). */
export const AUTH_USER_HEADER = "X-Pug-User";
/**
 * Identity headers some Grafana auth mode reads, or some sign-in proxy sets in front of a Grafana:
 * never passed on from a client, in either auth mode. PUG configures none of them but the JWT
 * header (and a user's settings cannot switch auth proxy on), so this is the second line: a
 * Grafana configured by hand or a future auth mode still gets no identity a client made up.
 * Auth proxy's default header and its usual extra headers; what oauth2-proxy, Authelia and the
 * like set; the JWT header; and the identity Grafana itself forwards to plugins.
 */
export const CLIENT_IDENTITY_HEADERS = [
    "X-WEBAUTH-USER", "X-WEBAUTH-EMAIL", "X-WEBAUTH-NAME", "X-WEBAUTH-ROLE", "X-WEBAUTH-GROUPS",
    "X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups", "X-Forwarded-Preferred-Username", "X-Forwarded-Access-Token",
    "X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Groups", "X-Auth-Request-Preferred-Username", "X-Auth-Request-Access-Token",
    "Remote-User", "Remote-Email", "Remote-Groups", "Remote-Name",
    DEFAULT_JWT_HEADER, "X-Grafana-Id", "X-Grafana-User",
] as const;
/**
 * How long nginx waits for one of a user's tasks to accept a connection before it tries the next
 * one. A task that is gone from the overlay answers nothing at all (no refusal), yet Docker's DNS
 * (dnsrr mode) and nginx's cache of it may still name it for `resolverValidSeconds`: each request
 * that picks it first pays this wait. Long enough for one lost SYN to be sent again (after 1 s);
 * over an overlay network a live task accepts in milliseconds.
 */
export const UPSTREAM_CONNECT_TIMEOUT_SECONDS = 2;
/** Grafana Live's server ping interval (Centrifuge's default, which Grafana keeps), in seconds. */
export const LIVE_PING_INTERVAL_SECONDS = 25;

/** How users sign in, resolved: FrontProxySettings' auth and jwt, defaults applied (frontProxySpec). */
export type ProxyAuth =
    /** Grafana's own login; nginx only strips identity headers. */
    | { mode: "grafana" }
    /**
     * nginx asks the platform's auth endpoint about every request (auth_request) and passes the
     * signed JWT it answers with to Grafana in `grafanaHeader`, replacing whatever the client sent.
     */
    | { mode: "jwt"; endpoint: string; tokenHeader: string; grafanaHeader: string };

/**
 * How a request names its user: by the first path segment (`https://DOMAIN/<id>/grafana/`), or by
 * the host (`https://<id>.DOMAIN/`, one browser origin per user). See UrlMode in naming.ts.
 */
export type ProxyUrls = { mode: "path" } | { mode: "subdomain"; domain: string };

/** Capacity and timeouts of one proxy task. */
export interface ProxyLimits {
    /** Concurrent WebSockets (Grafana Live) one task must hold; each costs two connections. */
    webSockets: number;
    /** Open files one nginx worker may use: at most the nodes' hard limit per process. */
    openFilesPerWorker: number;
    /** Seconds a connection may stay silent before nginx drops it; above Live's ping interval. */
    idleTimeoutSeconds: number;
    /** Largest request body (dashboard imports), MiB. */
    clientMaxBodyMb: number;
}

export const DEFAULT_PROXY_LIMITS: ProxyLimits = {
    webSockets: 10_000,
    openFilesPerWorker: 20_000,
    // three missed Live pings: a vanished client's descriptors are freed within 90 s
    idleTimeoutSeconds: 90,
    clientMaxBodyMb: 32,
};

/** Plain data the proxy's nginx.conf is built from. */
export interface NginxProxySpec {
    /** Users routed to, in any order: each reaches `tenantServiceName(id)` on `grafanaPort`. */
    userIds: string[];
    /** Whether the path or the host names the user. */
    urls: ProxyUrls;
    grafanaPort: number;
    auth: ProxyAuth;
    limits: ProxyLimits;
    /** DNS server that knows the users' services: Docker's embedded DNS in a Swarm task. */
    resolver: string;
    /** How long nginx trusts an answer, seconds: a moved task is followed within this time. */
    resolverValidSeconds: number;
    /** Port users (or the TLS terminator in front) connect to. */
    listenPort: number;
    /**
     * How long a stopping nginx (SIGQUIT) waits for open connections before it closes them
     * itself, seconds. Live WebSockets never end on their own, so without this a stopping task
     * holds them until Swarm kills it at the end of its grace period, and with stop-first
     * updates nothing listens on the node's port all that time. It also bounds how long old
     * workers keep WebSockets after a reload.
     */
    shutdownTimeoutSeconds: number;
    /** Port of the monitoring listener (stub_status); never published. */
    statusPort: number;
    /** Addresses/CIDRs allowed to read stub_status. */
    statusAllow: string[];
    /**
     * Addresses/CIDRs of proxies in front (the TLS terminator): their X-Forwarded-For and
     * X-Forwarded-Proto are believed. Anyone else's are replaced.
     */
    trustedProxies: string[];
}

/** Headroom of the connection budget over 2 × webSockets: plain HTTP beside Live, uneven spread over workers. */
const CONNECTION_HEADROOM = 2;
/** Descriptors a worker keeps for other things than connections: listeners, logs, temp files, resolver. */
const FILES_RESERVED_PER_WORKER = 1024;
/** The fewest open files per worker: as many for connections as are reserved for the rest. */
export const MIN_OPEN_FILES_PER_WORKER = 2 * FILES_RESERVED_PER_WORKER;

/** Worker processes and connections for the limits: the WebSockets spread over workers each within its open-files limit. */
export function workerSizing(limits: ProxyLimits): { workerProcesses: number; workerConnections: number; workerRlimitNofile: number } {
    const workerConnections = limits.openFilesPerWorker - FILES_RESERVED_PER_WORKER;
    const needed = 2 * limits.webSockets * CONNECTION_HEADROOM;
    return {
        // at least two, so one busy or restarting worker never holds every connection
        workerProcesses: Math.max(2, Math.ceil(needed / workerConnections)),
        workerConnections,
        workerRlimitNofile: limits.openFilesPerWorker,
    };
}

/** The header nginx exposes the auth endpoint's response header as: `$upstream_http_<lower_snake>`. */
function upstreamHeaderVariable(header: string): string {
    return `$upstream_http_${header.toLowerCase().replace(/-/g, "_")}`;
}

/** An HTTP header name. */
export const HEADER_NAME = /^[A-Za-z0-9-]+$/;
/** What nginx's allow, set_real_ip_from and geo take: an IPv4/IPv6 address or CIDR (or `unix:`). */
export const ADDRESS_OR_CIDR = /^(?:\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?|[0-9a-fA-F:]+(?:\/\d{1,3})?|unix:)$/;
/** A public host name, optionally with a port (pug:domain). */
export const PUBLIC_HOST = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?$/i;
/** An http(s) URL that fits in a quoted nginx string. */
export const ENDPOINT_URL = /^https?:\/\/[^\s"'{};#\\]+$/;

/** `worker_*` settings and the events block. */
export function processDirectives(limits: ProxyLimits): NginxDirective[] {
    const sizing = workerSizing(limits);
    return [
        directive("worker_processes", String(sizing.workerProcesses)),
        directive("worker_rlimit_nofile", String(sizing.workerRlimitNofile)),
        directive("error_log", "stderr", "warn"),
        block("events", [], [directive("worker_connections", String(sizing.workerConnections))]),
    ];
}

/** The user id of the path as sent: `/<id>/grafana`, then `/`, `?` or the end. */
const USER_PATH_REGEX = `^/(?<pug_user_id>${USER_ID_PATTERN.source.slice(1, -1)})/grafana(?:[/?]|$)`;
/**
 * The user location, matched against nginx's normalised path: only what also looks like a user
 * path after decoding is proxied at all (the raw path still alone decides whose Grafana).
 */
const USER_LOCATION_REGEX = `^/${USER_ID_PATTERN.source.slice(1, -1)}/grafana(?:/|$)`;
/** `/<id>/grafana` without its slash, with any query: the redirect target keeps the query. */
const SLASHLESS_PATH_REGEX = `^/(?<pug_slashless_id>${USER_ID_PATTERN.source.slice(1, -1)})/grafana(?<pug_slashless_query>[?].*)?$`;

/** Bytes of a map hash bucket: room for two entries with the longest user id (a pointer and the key padded to 8 bytes each). */
const MAP_HASH_BUCKET_SIZE = 128;

/**
 * Room for the map from user id to upstream to be a proper hash. With nginx's defaults (2048
 * buckets of 64 bytes) a map of some thousands of users does not fit: nginx warns "could not
 * build optimal map_hash" at every start and reload, and packs more entries per bucket. nginx
 * reads these when it parses each map, so they come before the maps.
 */
export function mapHashSizing(userCount: number): NginxDirective[] {
    return [directive("map_hash_max_size", String(Math.max(2048, 4 * userCount))), directive("map_hash_bucket_size", String(MAP_HASH_BUCKET_SIZE))];
}

/** Words that mean something as a map key; a user id spelled so is escaped with a backslash. */
const MAP_KEYWORDS = new Set(["default", "hostnames", "include", "volatile"]);

/**
 * A user id as a map key. Always quoted: nginx-conf keys directives by name, and would take an
 * unquoted `constructor` for a property of every JavaScript object. A user called `default` is
 * escaped, or nginx would make every unknown path theirs.
 */
function userMapKey(id: string): string {
    return quoted(MAP_KEYWORDS.has(id) ? `\\${id}` : id);
}

/**
 * The user id of a host in subdomain mode: `<id>.DOMAIN` and nothing more (DOMAIN's port aside:
 * `$host` has none, and nginx has lowered its case).
 */
function userHostRegex(domain: string): string {
    const name = domain.replace(/:\d+$/, "").toLowerCase().replace(/\./g, "\\.");
    return `^(?<pug_user_id>${USER_ID_PATTERN.source.slice(1, -1)})\\.${name}$`;
}

/**
 * The maps that route: raw path (or host, in subdomain mode) → user id → upstream
 * (`grafana-<id>:<port>`, from the user list only), "no route" and, in path mode, the slash
 * redirect.
 */
export function routingMaps(spec: Pick<NginxProxySpec, "userIds" | "grafanaPort" | "urls">): NginxDirective[] {
    const byHost = spec.urls.mode === "subdomain";
    return [
        block("map", byHost ? ["$host", "$pug_user"] : ["$request_uri", "$pug_user"], [
            directive(quoted(`~${byHost ? userHostRegex((spec.urls as { domain: string }).domain) : USER_PATH_REGEX}`), "$pug_user_id"),
            directive("default", quoted("")),
        ]),
        block("map", ["$pug_user", "$pug_upstream"], [
            ...[...spec.userIds].sort().map((id) => directive(userMapKey(id), `${tenantServiceName(id)}:${spec.grafanaPort}`)),
            directive("default", quoted("")),
        ]),
        block("map", ["$pug_upstream", "$pug_no_route"], [directive(quoted(""), "1"), directive("default", "0")]),
        ...(byHost
            ? []
            : [
                  block("map", ["$request_uri", "$pug_slash_redirect"], [
                      directive(quoted(`~${SLASHLESS_PATH_REGEX}`), "/$pug_slashless_id/grafana/$pug_slashless_query"),
                      directive("default", quoted("")),
                  ]),
              ]),
    ];
}

/**
 * Headers forwarded as Grafana needs them: Upgrade/Connection for WebSockets, the Host the
 * browser sent (Live compares the Origin with it, port included), the client address and scheme.
 * `$connection_upgrade` is `close` for plain requests: a variable upstream has no keep-alive pool,
 * so nginx closes each upstream connection anyway.
 */
export function forwardingMaps(trustedProxies: string[]): NginxDirective[] {
    return [
        block("map", ["$http_upgrade", "$connection_upgrade"], [directive("default", "upgrade"), directive(quoted(""), "close")]),
        block("map", ["$http_host", "$pug_forwarded_host"], [directive("default", "$http_host"), directive(quoted(""), "$host")]),
        ...(trustedProxies.length
            ? [
                  // Only a proxy in front knows the scheme the browser used; a client's claim is ignored.
                  block("map", [quoted("$pug_via_trusted_proxy:$http_x_forwarded_proto"), "$pug_forwarded_proto"], [
                      directive(quoted("~^1:(?<pug_proto>https?)$"), "$pug_proto"),
                      directive("default", "$scheme"),
                  ]),
              ]
            : []),
    ];
}

/**
 * Behind trusted proxies (realip): the client address is the last untrusted one in
 * X-Forwarded-For, and `$pug_via_trusted_proxy` tells whether the peer was one of them.
 */
export function trustedProxyDirectives(trustedProxies: string[]): NginxDirective[] {
    if (!trustedProxies.length) return [];
    return [
        ...trustedProxies.map((cidr) => directive("set_real_ip_from", cidr)),
        directive("real_ip_header", "X-Forwarded-For"),
        directive("real_ip_recursive", "on"),
        block("geo", ["$realip_remote_addr", "$pug_via_trusted_proxy"], [
            directive("default", "0"),
            ...trustedProxies.map((cidr) => directive(cidr, "1")),
        ]),
    ];
}

/**
 * The location user requests go through: 404 off the map, in path mode the slash redirect, then
 * the proxy. In subdomain mode it is every path of a user's host.
 */
export function userLocation(spec: NginxProxySpec): NginxDirective {
    const byHost = spec.urls.mode === "subdomain";
    const timeout = `${spec.limits.idleTimeoutSeconds}s`;
    const jwt = spec.auth.mode === "jwt" ? spec.auth : undefined;
    // Every identity header a Grafana might trust is emptied (nginx then drops it), except the
    // one jwt mode fills with the token the auth endpoint issued. In jwt mode Authorization goes
    // too: the token alone says who is signed in, and a client's basic auth or Grafana API token
    // could name someone else than the auth endpoint approved. In grafana mode it is how Grafana's
    // own API tokens and basic auth sign in, so it passes.
    const identityHeaders = new Map<string, string>();
    for (const h of [...CLIENT_IDENTITY_HEADERS, ...(jwt ? ["Authorization"] : [])]) identityHeaders.set(h.toLowerCase(), h);
    if (jwt) identityHeaders.set(jwt.grafanaHeader.toLowerCase(), jwt.grafanaHeader);
    const identity = [...identityHeaders.values()].map((h) =>
        directive("proxy_set_header", h, jwt && h.toLowerCase() === jwt.grafanaHeader.toLowerCase() ? "$pug_jwt" : quoted("")),
    );
    return block("location", byHost ? ["/"] : ["~", quoted(USER_LOCATION_REGEX)], [
        // rewrite phase: before auth_request, so unknown users cost the auth endpoint nothing
        block("if", ["($pug_no_route)"], [directive("return", "404")]),
        ...(byHost ? [] : [block("if", ["($pug_slash_redirect)"], [directive("return", "301", "$pug_slash_redirect")])]),
        ...(jwt ? [directive("auth_request", AUTH_LOCATION), directive("auth_request_set", "$pug_jwt", upstreamHeaderVariable(jwt.tokenHeader))] : []),
        // No URI part: the path goes to Grafana exactly as sent (Grafana serves the sub path).
        directive("proxy_pass", "http://$pug_upstream"),
        directive("proxy_http_version", "1.1"),
        directive("proxy_set_header", "Host", "$pug_forwarded_host"),
        directive("proxy_set_header", "Upgrade", "$http_upgrade"),
        directive("proxy_set_header", "Connection", "$connection_upgrade"),
        directive("proxy_set_header", "X-Forwarded-For", "$remote_addr"),
        directive("proxy_set_header", "X-Real-IP", "$remote_addr"),
        directive("proxy_set_header", "X-Forwarded-Proto", spec.trustedProxies.length ? "$pug_forwarded_proto" : "$scheme"),
        ...identity,
        // A task that vanished from the overlay answers nothing: give up on it quickly and try the
        // user's next task. A request that could not be sent is retried whatever its method.
        directive("proxy_connect_timeout", `${UPSTREAM_CONNECT_TIMEOUT_SECONDS}s`),
        directive("proxy_next_upstream", "error", "timeout"),
        directive("proxy_read_timeout", timeout),
        directive("proxy_send_timeout", timeout),
    ]);
}

const AUTH_LOCATION = "/_pug/auth";

/**
 * The auth_request target (jwt mode): internal only. The endpoint learns whose Grafana is asked
 * for (the token's audience) and the original request; it gets the client's cookies and
 * Authorization as sent, never the body.
 */
export function authLocation(auth: Extract<ProxyAuth, { mode: "jwt" }>): NginxDirective {
    return block("location", ["=", AUTH_LOCATION], [
        directive("internal"),
        // Through a variable, so the endpoint is resolved when asked, not when nginx starts.
        directive("set", "$pug_auth_endpoint", quoted(auth.endpoint)),
        directive("proxy_pass", "$pug_auth_endpoint"),
        directive("proxy_pass_request_body", "off"),
        directive("proxy_set_header", "Content-Length", quoted("")),
        directive("proxy_set_header", "Upgrade", quoted("")),
        directive("proxy_set_header", AUTH_USER_HEADER, "$pug_user"),
        directive("proxy_set_header", "X-Original-URI", "$request_uri"),
        directive("proxy_set_header", "X-Original-Method", "$request_method"),
        directive("proxy_set_header", "X-Forwarded-For", "$remote_addr"),
        // A signed token with many claims outgrows the default 4 KiB header buffer (the
        // buffers grow with it, as nginx requires).
        directive("proxy_buffer_size", "16k"),
        directive("proxy_buffers", "4", "16k"),
        ...(auth.endpoint.startsWith("https:")
            ? [directive("proxy_ssl_server_name", "on"), directive("proxy_ssl_verify", "on"), directive("proxy_ssl_trusted_certificate", "/etc/ssl/certs/ca-certificates.crt")]
            : []),
        directive("proxy_connect_timeout", "5s"),
        directive("proxy_read_timeout", "10s"),
    ]);
}

/** The public server: /healthz, the users, 404 for anything else, and in jwt mode the auth subrequest. */
export function publicServer(spec: NginxProxySpec): NginxDirective {
    return block("server", [], [
        // reuseport: the kernel spreads connections evenly over the workers' own sockets
        directive("listen", String(spec.listenPort), "default_server", "reuseport", "backlog=4096"),
        directive("server_name", "_"),
        block("location", ["=", "/healthz"], [directive("access_log", "off"), directive("default_type", "text/plain"), directive("return", "200", quoted("ok"))]),
        userLocation(spec),
        // in subdomain mode the user location is `/` itself, answering 404 to unknown hosts
        ...(spec.urls.mode === "path" ? [block("location", ["/"], [directive("return", "404")])] : []),
        ...(spec.auth.mode === "jwt" ? [authLocation(spec.auth)] : []),
    ]);
}

/** Where the monitoring listener serves nginx's stub_status. */
export const STATUS_PATH = "/stub_status";

/** stub_status on its own port, for the allowed monitoring addresses only. */
export function statusServer(spec: Pick<NginxProxySpec, "statusPort" | "statusAllow">): NginxDirective {
    return block("server", [], [
        directive("listen", String(spec.statusPort)),
        directive("access_log", "off"),
        ...spec.statusAllow.map((a) => directive("allow", a)),
        directive("deny", "all"),
        block("location", ["=", STATUS_PATH], [directive("stub_status")]),
        block("location", ["/"], [directive("return", "404")]),
    ]);
}

/** The whole configuration as a tree. */
export function nginxConfigTree(spec: NginxProxySpec): NginxDirective[] {
    return [
        ...processDirectives(spec.limits),
        directive("worker_shutdown_timeout", `${spec.shutdownTimeoutSeconds}s`),
        block("http", [], [
            directive("server_tokens", "off"),
            directive("access_log", "/dev/stdout"),
            directive("default_type", "application/octet-stream"),
            // Relative Location headers: right behind a TLS terminator whatever scheme nginx sees.
            directive("absolute_redirect", "off"),
            directive("client_max_body_size", `${spec.limits.clientMaxBodyMb}m`),
            directive("send_timeout", `${spec.limits.idleTimeoutSeconds}s`),
            directive("resolver", spec.resolver, `valid=${spec.resolverValidSeconds}s`, "ipv6=off"),
            directive("resolver_timeout", "5s"),
            ...trustedProxyDirectives(spec.trustedProxies),
            ...mapHashSizing(spec.userIds.length),
            ...routingMaps(spec),
            ...forwardingMaps(spec.trustedProxies),
            publicServer(spec),
            statusServer(spec),
        ]),
    ];
}

/**
 * nginx.conf for the spec, as frontProxySpec makes it from arguments FrontProxy checked (their
 * schema is the one place of those rules). A value that would break out of its directive is
 * refused by the renderer all the same.
 */
export function nginxConfig(spec: NginxProxySpec): string {
    return renderNginxConfig(nginxConfigTree(spec));
}
