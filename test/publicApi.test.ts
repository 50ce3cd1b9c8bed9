/**
 * PUG's public API (components/index.ts): the list of what another stack may import, and the
 * promise that its types are PUG's own. The list below is a copy on purpose: an export added to
 * or removed from the barrel fails here until the list says so too, so the API never changes by
 * accident. That the declarations reach no third-party package but Pulumi's is checked on the
 * built package (test/packaging.test.ts) and by a consumer's own tsc (test/consumer.test.ts).
 */
import * as path from "path";
import * as ts from "typescript";
import { describe, expect, expectTypeOf, it } from "vitest";
import type { z } from "zod";
import type { datasourceSchema } from "../components/specs/datasources";
import type { FrontProxySettings, frontProxySettingsSchema } from "../components/frontProxy";
import type { EmbeddedMysqlSettings, embeddedMysqlSettingsSchema } from "../components/embeddedMysql";
import type { LiveRedisSettings, liveRedisSettingsSchema } from "../components/liveRedis";
import type { MonitoringSettings, monitoringSettingsSchema } from "../components/monitoring";
import type { ExternalMysqlSettings, externalMysqlSchema, ExternalRedisSettings, externalRedisSchema, GrafanaDefaults, grafanaDefaultsSchema, ProxySettings, proxySettingsSchema } from "../components/pugPlatform";
import type { channelSchema } from "../components/specs/releaseChannels";
import type { userRecordSchema } from "../components/users/users";
import type { Datasource, ReleaseChannel, UserRecord } from "../components";
import { PROJECT_ROOT } from "./harness/stackFiles";

/** Every export of the barrel, `value` (a class, function or constant: there at run time) or `type`. */
const PUBLIC_API: Record<string, "value" | "type"> = {
    // components and their arguments
    PugPlatform: "value",
    PugPlatformArgs: "type",
    GrafanaTenant: "value",
    GrafanaTenantArgs: "type",
    DEFAULT_GRAFANA_IMAGE: "value",
    GrafanaImage: "value",
    GrafanaImageArgs: "type",
    TenantDatabase: "value",
    TenantDatabaseArgs: "type",
    Swarm: "value",
    SwarmArgs: "type",
    SwarmNodes: "value",
    SwarmNodesArgs: "type",
    LiveRedis: "value",
    LiveRedisArgs: "type",
    LiveRedisSettings: "type",
    EmbeddedMysql: "value",
    EmbeddedMysqlArgs: "type",
    EmbeddedMysqlSettings: "type",
    FrontProxy: "value",
    FrontProxyArgs: "type",
    Monitoring: "value",
    MonitoringArgs: "type",
    MonitoringSettings: "type",
    // what the arguments are made of
    ExternalMysqlSettings: "type",
    ExternalRedisSettings: "type",
    GrafanaDefaults: "type",
    GrafanaServiceSettings: "type",
    MysqlSettings: "type",
    FrontProxySettings: "type",
    ProxyJwt: "type",
    ProxyJwtSettings: "type",
    ProxySettings: "type",
    RedisSettings: "type",
    RegistrySettings: "type",
    ReleaseChannel: "type",
    SwarmNode: "type",
    UrlMode: "type",
    Datasource: "type",
    // users
    parseUserList: "value",
    UserListOptions: "type",
    UserRecord: "type",
    loadUsers: "value",
    UserSource: "type",
    InlineUserSource: "value",
    FileUserSource: "value",
    HttpUserSource: "value",
    HttpUserSourceArgs: "type",
    UserSourceError: "value",
    InvalidInputError: "value",
};

/** The barrel's exports as the compiler sees them, each a value or a type only. */
function barrelExports(): Record<string, "value" | "type"> {
    const barrel = path.join(PROJECT_ROOT, "components", "index.ts");
    const program = ts.createProgram([barrel], { module: ts.ModuleKind.CommonJS, strict: true, noEmit: true, skipLibCheck: true, types: ["node"] });
    const checker = program.getTypeChecker();
    const exports = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(barrel)!)!);
    return Object.fromEntries(
        exports.map((s) => {
            const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
            return [s.name, target.flags & ts.SymbolFlags.Value ? "value" : "type"];
        }),
    );
}

describe("the public API (components/index.ts)", () => {
    it("exports exactly the listed names: a change to the API is a change to this list", () => {
        expect(barrelExports()).toEqual(PUBLIC_API);
    }, 60_000);

    it("has every listed value at run time, as the package's entry point", async () => {
        const entry = await import("../components");
        const values = Object.keys(PUBLIC_API).filter((name) => PUBLIC_API[name] === "value");
        expect(Object.keys(entry).sort()).toEqual(values.sort());
        for (const name of values) expect((entry as Record<string, unknown>)[name], name).toBeDefined();
    });

    it("writes out the types the stack config's zod schemas produce, exactly (checked by tsc)", () => {
        // Written out so the declarations name no zod type; these fail `tsc --noEmit` (npm test's
        // first step) as soon as a schema and its public type disagree in either direction.
        expectTypeOf<z.output<typeof userRecordSchema>>().toEqualTypeOf<UserRecord>();
        expectTypeOf<z.output<typeof datasourceSchema>>().toEqualTypeOf<Datasource>();
        expectTypeOf<z.output<typeof channelSchema>>().toEqualTypeOf<ReleaseChannel>();
        expectTypeOf<z.output<typeof grafanaDefaultsSchema>>().toEqualTypeOf<GrafanaDefaults>();
        expectTypeOf<z.output<typeof proxySettingsSchema>>().toEqualTypeOf<ProxySettings>();
        expectTypeOf<z.output<typeof frontProxySettingsSchema>>().toEqualTypeOf<FrontProxySettings>();
        expectTypeOf<z.output<typeof embeddedMysqlSettingsSchema>>().toEqualTypeOf<EmbeddedMysqlSettings>();
        expectTypeOf<z.output<typeof liveRedisSettingsSchema>>().toEqualTypeOf<LiveRedisSettings>();
        expectTypeOf<z.output<typeof monitoringSettingsSchema>>().toEqualTypeOf<MonitoringSettings>();
        expectTypeOf<Omit<ExternalMysqlSettings, "password">>().toEqualTypeOf<z.output<typeof externalMysqlSchema>>();
        expectTypeOf<Omit<ExternalRedisSettings, "password">>().toEqualTypeOf<z.output<typeof externalRedisSchema>>();
    });
});
