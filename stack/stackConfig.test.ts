import { generateKeyPairSync } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { setConfig } from "../test/harness/pulumiMocks";
import { readStackSettings } from "./stackConfig";
import { InvalidInputError } from "../components/validation";

const keys = generateKeyPairSync("ec", { namedCurve: "P-256" });
const PUBLIC_KEY = keys.publicKey.export({ type: "spki", format: "pem" }).toString();
const PRIVATE_KEY = keys.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const jwt = { endpoint: "http://auth.internal:8080/check", publicKey: PUBLIC_KEY };

function read(values: Record<string, unknown>) {
    setConfig({ "pug:domain": "grafana.example.com", ...values });
    return readStackSettings(new pulumi.Config("pug"));
}
function problems(values: Record<string, unknown>): string[] {
    try {
        read(values);
    } catch (err) {
        if (err instanceof InvalidInputError) return err.problems;
        throw err;
    }
    throw new Error("expected the settings to be refused");
}

describe("pug:proxy", () => {
    it("leaves every setting to the front proxy's defaults (Grafana's own login) when the key is absent", () => {
        expect(read({}).proxy).toEqual({});
    });

    it("takes jwt mode with an endpoint and the platform's public key", () => {
        const proxy = read({ "pug:proxy": { auth: "jwt", jwt, replicas: 3, trustedProxies: ["10.0.0.0/8"] } }).proxy;
        expect(proxy).toEqual({ auth: "jwt", jwt, replicas: 3, trustedProxies: ["10.0.0.0/8"] });
    });

    it("names the key and the field of every problem", () => {
        expect(problems({ "pug:proxy": { auth: "jwt" } })).toEqual(['pug:proxy: jwt: is required when auth is "jwt" ({ endpoint, ... })']);
        expect(problems({ "pug:proxy": { jwt } })).toEqual(['pug:proxy: jwt: applies only when auth is "jwt"']);
        expect(problems({ "pug:proxy": { auth: "oauth" } })).toEqual(['pug:proxy: auth: must be "grafana" or "jwt"']);
        expect(problems({ "pug:proxy": { idleTimeoutSeconds: 20, trustedProxies: ["the-lb"], updateOrder: "whenever" } })).toEqual([
            'pug:proxy: updateOrder: must be "start-first" or "stop-first"',
            "pug:proxy: idleTimeoutSeconds: must be a whole number above Live's ping interval of 25s",
            "pug:proxy: trustedProxies.0: must be an IP address or CIDR",
        ]);
        expect(problems({ "pug:proxy": { auth: "jwt", jwt: { ...jwt, endpoint: "auth.internal" } } })).toEqual(["pug:proxy: jwt.endpoint: must be an http:// or https:// URL"]);
        expect(problems({ "pug:proxy": { replica: 2 } })).toEqual([expect.stringMatching(/^pug:proxy: .*replica/)]);
        // the Grafana header's old name (now grafanaHeader, as everywhere else) is refused, not ignored
        expect(problems({ "pug:proxy": { auth: "jwt", jwt: { ...jwt, header: "X-A" } } })).toEqual(['pug:proxy: jwt: Unrecognized key: "header"']);
    });

    it("refuses a private key in place of the public one, and anything that is no PEM public key", () => {
        expect(problems({ "pug:proxy": { auth: "jwt", jwt: { ...jwt, publicKey: PRIVATE_KEY } } })).toEqual([
            expect.stringMatching(/^pug:proxy: jwt\.publicKey: is a private key: give the public key/),
        ]);
        expect(problems({ "pug:proxy": { auth: "jwt", jwt: { ...jwt, publicKey: "SET ME" } } })).toEqual([
            "pug:proxy: jwt.publicKey: must be a PEM public key (-----BEGIN PUBLIC KEY-----)",
        ]);
        const broken = PUBLIC_KEY.replace(/\n[A-Za-z0-9+/]{8}/, "\n########");
        expect(problems({ "pug:proxy": { auth: "jwt", jwt: { ...jwt, publicKey: broken } } })).toEqual([expect.stringMatching(/^pug:proxy: jwt\.publicKey: is not a readable PEM public key/)]);
    });

    it("reports problems of other keys in the same run", () => {
        expect(problems({ "pug:grafana": { replicas: 0 }, "pug:proxy": { replicas: 0 } })).toEqual([
            "pug:grafana: replicas: must be a whole number >= 1",
            "pug:proxy: replicas: must be a whole number >= 1",
        ]);
    });
});

describe("pug:grafana", () => {
    it("is read with GrafanaTenant's rules: what a user's service refuses, the key refuses, naming the field", () => {
        expect(problems({ "pug:grafana": { memoryLimitMb: 256, memoryReservationMb: 512 } })).toEqual(["pug:grafana: memoryReservationMb: (512) exceeds memoryLimitMb (256)"]);
        expect(problems({ "pug:grafana": { liveMaxConnections: 5000, openFilesLimit: 4096 } })).toEqual(["pug:grafana: openFilesLimit: (4096) leaves too few descriptors for liveMaxConnections (5000)"]);
        expect(problems({ "pug:grafana": { replicas: 5, maxReplicas: 4 } })).toEqual(["pug:grafana: replicas: must be at most maxReplicas (4)"]);
        expect(problems({ "pug:grafana": { memoryLimitMb: 64 } })).toEqual(["pug:grafana: memoryLimitMb: must be a whole number >= 128", "pug:grafana: memoryReservationMb: (128) exceeds memoryLimitMb (64)"]);
    });
});

describe("pug:mysql.tls", () => {
    const external = { endpoint: "mysql.internal:3306", username: "pug_admin", password: "pw" };

    it("takes what the mysql provider takes, written as a string or a YAML boolean", () => {
        for (const [tls, taken] of [["true", "true"], ["false", "false"], ["skip-verify", "skip-verify"], [true, "true"], [false, "false"]] as const) {
            expect(read({ "pug:mysql": { ...external, tls } }).mysql, String(tls)).toMatchObject({ mode: "external", tls: taken });
        }
    });

    it("refuses what the provider would refuse at `pulumi up`, naming the key and the field", () => {
        for (const tls of ["preferred", "required", "TRUE", "custom"]) {
            expect(problems({ "pug:mysql": { ...external, tls } })).toEqual([
                `pug:mysql: tls: must be true, false or skip-verify, what the mysql provider takes (got ${JSON.stringify(tls)})`,
            ]);
        }
    });
});
