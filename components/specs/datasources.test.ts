import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { settled, setupPulumiMocks, type MockSetup } from "../../test/harness/pulumiMocks";
import type * as dsModule from "./datasources";

const CONFIG = "docker:index/serviceConfig:ServiceConfig";
const SECRET = "docker:index/secret:Secret";

let mocks: MockSetup;
let mod: typeof dsModule;
let pulumi: typeof import("@pulumi/pulumi");

beforeAll(async () => {
    mocks = await setupPulumiMocks();
    mod = await import("./datasources");
    pulumi = await import("@pulumi/pulumi");
});

const graphite = (extra: Partial<dsModule.Datasource> = {}): dsModule.Datasource => ({
    name: "Graphite",
    type: "graphite",
    url: "https://graphite.example.com/alice",
    basicAuth: true,
    basicAuthUser: "alice",
    jsonData: { graphiteVersion: "1.1" },
    secureJsonData: { basicAuthPassword: { secret: "graphite-key" } },
    ...extra,
});
const prometheus: dsModule.Datasource = { name: "Prometheus", type: "prometheus", url: "https://prom.example.com/alice", isDefault: true };

describe("the provisioning file", () => {
    it("is Grafana's datasource provisioning YAML: apiVersion 1 and the user's datasources, credentials filled in", () => {
        const doc = parse(mod.datasourceProvisioningYaml([graphite(), prometheus], { "graphite-key": "key-of-alice" }));
        expect(doc.apiVersion).toBe(1);
        expect(doc.datasources).toEqual([
            {
                name: "Graphite",
                type: "graphite",
                url: "https://graphite.example.com/alice",
                access: "proxy",
                orgId: 1,
                isDefault: false,
                editable: false,
                basicAuth: true,
                basicAuthUser: "alice",
                jsonData: { graphiteVersion: "1.1" },
                secureJsonData: { basicAuthPassword: "key-of-alice" },
            },
            { name: "Prometheus", type: "prometheus", url: "https://prom.example.com/alice", access: "proxy", orgId: 1, isDefault: true, editable: false },
        ]);
    });

    it("doubles every $, so Grafana expands nothing: no other secret of the service reaches a datasource", () => {
        const sneaky = graphite({ url: "https://x.example.com/$__file{/run/secrets/grafana-db-password}", jsonData: { a: ["$GF_SECURITY_ADMIN_PASSWORD"] } });
        const doc = parse(mod.datasourceProvisioningYaml([sneaky], { "graphite-key": "pa$$w0rd$" }));
        const [ds] = doc.datasources;
        expect(ds.url).toBe("https://x.example.com/$$__file{/run/secrets/grafana-db-password}");
        expect(ds.jsonData.a).toEqual(["$$GF_SECURITY_ADMIN_PASSWORD"]);
        // Grafana reads `$$` as `$`: the key arrives as written
        expect(ds.secureJsonData.basicAuthPassword).toBe("pa$$$$w0rd$$");
        expect(ds.secureJsonData.basicAuthPassword.split("$$").join("$")).toBe("pa$$w0rd$");
    });
});

describe("datasource records", () => {
    const list = (value: unknown) => mod.datasourceListSchema.safeParse(value).error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`);

    it("refuses a credential written in the record itself", () => {
        expect(list([{ name: "G", type: "graphite", secureJsonData: { basicAuthPassword: "plain-key" } }])).toEqual([
            '0.secureJsonData.basicAuthPassword: must be a reference { secret: "<name>" } to pug:userSecrets.<user id>.<name>: credentials are never written in the user list',
        ]);
    });

    it("refuses two datasources of one name, and a second default (Grafana would refuse to start)", () => {
        expect(list([prometheus, { ...prometheus, url: "https://other.example.com" }])).toEqual(["1.name: duplicates datasource 1's name", "1.isDefault: only one datasource can be the default (Grafana refuses to start otherwise)"]);
    });

    it("refuses what is not a URL and unknown fields", () => {
        expect(list([{ name: "G", type: "graphite", url: "graphite:8080" }])).toEqual(["0.url: must be an http(s) URL"]);
        expect(list([{ name: "G", type: "graphite", password: "x" }])).toEqual(['0: Unrecognized key: "password"']);
    });

    it("names each credential reference that has no secret set, with the command that sets it", () => {
        expect(mod.datasourceSecretProblems('user "alice"', "alice", [graphite()], [])).toEqual([
            "user \"alice\": datasources.0.secureJsonData.basicAuthPassword (datasource \"Graphite\"): secret \"graphite-key\" is not set (pulumi config set --secret --path 'pug:userSecrets.alice.graphite-key' <value>)",
        ]);
        expect(mod.datasourceSecretProblems('user "alice"', "alice", [graphite()], ["graphite-key"])).toEqual([]);
    });
});

describe("datasourceProvisioning", () => {
    const LONGEST_ID = "a".repeat(40);
    const declare = async (datasources: dsModule.TenantDatasources | undefined) => {
        mocks.reset();
        const mounts = mod.datasourceProvisioning("user-x-datasources", `grafana-${LONGEST_ID}-ds`, datasources, "472", {});
        await settled();
        return mounts;
    };

    it("mounts datasources without credentials as a Docker config in Grafana's provisioning directory", async () => {
        const mounts = await declare({ list: [prometheus] });
        const [config] = mocks.ofType(CONFIG);
        expect(mocks.ofType(SECRET)).toEqual([]);
        expect(parse(Buffer.from(config.inputs.data, "base64").toString("utf8")).datasources[0].name).toBe("Prometheus");
        expect(mounts.secrets).toEqual([]);
        expect(mounts.configs).toHaveLength(1);
        const mount = await new Promise<any>((r) => pulumi.output(mounts.configs![0]).apply(r));
        expect(mount).toMatchObject({ fileName: "/etc/grafana/provisioning/datasources/pug.yaml", fileUid: "472", configName: config.inputs.name });
        // Docker refuses config and secret names over 64 characters: the longest user id fits
        expect(config.inputs.name.length).toBeLessThanOrEqual(64);
    });

    it("mounts datasources with a credential as a Docker secret, the credential inside it only", async () => {
        const mounts = await declare({ list: [graphite(), prometheus], secrets: { "graphite-key": pulumi.secret("key-of-alice") } });
        expect(mocks.ofType(CONFIG)).toEqual([]);
        const [secret] = mocks.ofType(SECRET);
        expect(secret.secretPaths).toContain("data");
        expect(Buffer.from(secret.inputs.data, "base64").toString("utf8")).toContain("basicAuthPassword: key-of-alice");
        expect(secret.inputs.name).not.toContain("key-of-alice");
        expect(secret.inputs.name.length).toBeLessThanOrEqual(64);
        expect(mounts.configs).toBeUndefined();
        const mount = await new Promise<any>((r) => pulumi.output(mounts.secrets[0]).apply(r));
        expect(mount).toMatchObject({ fileName: "/etc/grafana/provisioning/datasources/pug.yaml", fileUid: "472", fileMode: 0o400 });
    });

    it("declares nothing for a user without datasources", async () => {
        expect(await declare(undefined)).toEqual({ secrets: [] });
        expect(await declare({ list: [] })).toEqual({ secrets: [] });
        expect(mocks.resources).toEqual([]);
    });
});
