import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { z } from "zod";
import { configMount, hashedConfig, hashedSecret, secretMount } from "../dockerObjects";

/**
 * A user's datasources (e.g. Graphite at the user's own URL and key), provisioned into the user's
 * Grafana from a file Grafana reads at start: a Docker config, or a Docker secret as soon as one
 * datasource carries a credential.
 *
 * Credentials never appear in the user list, which may come from a file or an API: a
 * `secureJsonData` value is a reference `{ secret: "<name>" }` to the stack's secret config
 * `pug:userSecrets.<user id>.<name>` (set with `pulumi config set --secret --path`). The lookup
 * is confined to the user's own secrets, so one user's record cannot pull another's key into its
 * Grafana.
 */

/** Where Grafana reads the provisioned datasources (its provisioning/datasources directory). */
export const DATASOURCE_PROVISIONING_FILE = "/etc/grafana/provisioning/datasources/pug.yaml";

/** The name of a user secret: letters, digits, `_` and `-`. */
export const SECRET_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const secretRefSchema = z.strictObject(
    { secret: z.string().regex(SECRET_NAME_PATTERN, "a secret name is letters, digits, '_' or '-'") },
    { error: 'must be a reference { secret: "<name>" } to pug:userSecrets.<user id>.<name>: credentials are never written in the user list' },
);

/** @internal */
export const datasourceSchema = z.strictObject({
    name: z.string().min(1).max(190),
    /** The datasource plugin: graphite, prometheus, loki, ... */
    type: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, "must be a datasource plugin id, e.g. graphite or prometheus"),
    url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).optional(),
    uid: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, "a uid is at most 40 letters, digits, '_' or '-'").optional(),
    access: z.enum(["proxy", "direct"]).optional(),
    isDefault: z.boolean().optional(),
    user: z.string().optional(),
    database: z.string().optional(),
    basicAuth: z.boolean().optional(),
    basicAuthUser: z.string().optional(),
    withCredentials: z.boolean().optional(),
    /** Plain settings of the datasource (Grafana stores them unencrypted too). */
    jsonData: z.record(z.string(), z.json()).optional(),
    /** Credentials, each a reference to a user secret. */
    secureJsonData: z.record(z.string().regex(/^[A-Za-z0-9_]+$/, "a key is letters, digits or '_'"), secretRefSchema).optional(),
});

/** A user's datasources: names and uids unique, at most one default (Grafana refuses to start otherwise). @internal */
export const datasourceListSchema = z.array(datasourceSchema).superRefine((list, ctx) => {
    const firstWith = (field: "name" | "uid", i: number) => list.findIndex((d) => d[field] !== undefined && d[field] === list[i][field]);
    list.forEach((ds, i) => {
        for (const field of ["name", "uid"] as const) {
            const first = firstWith(field, i);
            if (first !== -1 && first < i) ctx.addIssue({ code: "custom", path: [i, field], message: `duplicates datasource ${first + 1}'s ${field}` });
        }
        if (ds.isDefault && list.findIndex((d) => d.isDefault) < i) {
            ctx.addIssue({ code: "custom", path: [i, "isDefault"], message: "only one datasource can be the default (Grafana refuses to start otherwise)" });
        }
    });
});

/** A JSON value, as a datasource's `jsonData` holds them. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * One datasource of a user record, validated by datasourceSchema (written out, not inferred, so
 * the declarations name no zod type; test/publicApi.test.ts checks the two agree).
 */
export interface Datasource {
    name: string;
    /** The datasource plugin: graphite, prometheus, loki, ... */
    type: string;
    url?: string;
    uid?: string;
    access?: "proxy" | "direct";
    isDefault?: boolean;
    user?: string;
    database?: string;
    basicAuth?: boolean;
    basicAuthUser?: string;
    withCredentials?: boolean;
    /** Plain settings of the datasource (Grafana stores them unencrypted too). */
    jsonData?: Record<string, JsonValue>;
    /** Credentials, each a reference to a user secret (`pug:userSecrets.<user id>.<name>`). */
    secureJsonData?: Record<string, { secret: string }>;
}

/** The names of the user secrets a list of datasources refers to, each once. */
export function referencedSecrets(datasources: Datasource[]): string[] {
    return [...new Set(datasources.flatMap((d) => Object.values(d.secureJsonData ?? {}).map((ref) => ref.secret)))];
}

/** References to user secrets that are not set, one line each; `owner` names the user. */
export function datasourceSecretProblems(owner: string, userId: string, datasources: Datasource[], available: Iterable<string>): string[] {
    const set = new Set(available);
    return datasources.flatMap((d, i) =>
        Object.entries(d.secureJsonData ?? {})
            .filter(([, ref]) => !set.has(ref.secret))
            .map(
                ([key, ref]) =>
                    `${owner}: datasources.${i}.secureJsonData.${key} (datasource "${d.name}"): secret "${ref.secret}" is not set ` +
                    `(pulumi config set --secret --path 'pug:userSecrets.${userId}.${ref.secret}' <value>)`,
            ),
    );
}

/**
 * Grafana expands `$VAR`, `${VAR}` and `$__file{…}`/`$__env{…}` in every provisioning value, and
 * reads `$$` as a literal `$`. Every `$` is doubled, so values stay literal: a user-list entry
 * cannot make Grafana read another of the service's secrets (`$__file{/run/secrets/…}`) or its
 * environment into a datasource field the user can see, and a credential containing `$` arrives
 * intact.
 */
export function escapeProvisioningValue(value: string): string {
    return value.replace(/\$/g, () => "$$");
}

function escapeStrings(value: unknown): unknown {
    if (typeof value === "string") return escapeProvisioningValue(value);
    if (Array.isArray(value)) return value.map(escapeStrings);
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, escapeStrings(v)]));
    return value;
}

/**
 * Grafana's datasource provisioning file for a user's datasources, with each credential
 * reference replaced by its value from `credentials` (by secret name).
 */
export function datasourceProvisioningYaml(datasources: Datasource[], credentials: Record<string, string>): string {
    const entries = datasources.map((d) => {
        const { secureJsonData, ...plain } = d;
        const secure = secureJsonData && Object.fromEntries(Object.entries(secureJsonData).map(([key, ref]) => [key, credentials[ref.secret]]));
        // Grafana owns what it provisions: edits in the UI would be lost at the next start anyway.
        return escapeStrings({ orgId: 1, access: "proxy", isDefault: false, editable: false, ...plain, ...(secure ? { secureJsonData: secure } : {}) });
    });
    return stringify({ apiVersion: 1, datasources: entries });
}

/** A user's datasources and the values of the user secrets they may refer to. */
export interface TenantDatasources {
    list: Datasource[];
    /** The user's secrets by name (`pug:userSecrets.<user id>`). @default none */
    secrets?: Record<string, pulumi.Input<string>>;
}

/**
 * Declares the provisioning file of a user's datasources and returns how to mount it into the
 * user's service: a Docker secret when a datasource carries a credential, a Docker config
 * otherwise; nothing for an empty list. `baseName` prefixes the object's name (Docker allows 64
 * characters in all, the content hash takes 13).
 */
export function datasourceProvisioning(
    resourceName: string,
    baseName: string,
    datasources: TenantDatasources | undefined,
    uid: string,
    opts: pulumi.CustomResourceOptions,
): { configs?: docker.types.input.ServiceTaskSpecContainerSpecConfig[]; secrets: docker.types.input.ServiceTaskSpecContainerSpecSecret[] } {
    const list = datasources?.list ?? [];
    if (!list.length) return { secrets: [] };
    const names = referencedSecrets(list);
    if (!names.length) {
        const config = hashedConfig(resourceName, baseName, datasourceProvisioningYaml(list, {}), opts);
        return {
            configs: [configMount(config, DATASOURCE_PROVISIONING_FILE, 0o440, { uid, gid: "0" })],
            secrets: [],
        };
    }
    const missing = names.filter((n) => datasources?.secrets?.[n] === undefined);
    if (missing.length) throw new Error(`${resourceName}: datasources refer to secrets that are not given: ${missing.join(", ")}`);
    const values = pulumi.all(names.map((n) => pulumi.output(datasources!.secrets![n])));
    const text = values.apply((v) => datasourceProvisioningYaml(list, Object.fromEntries(names.map((n, i) => [n, v[i]]))));
    const secret = hashedSecret(resourceName, baseName, text, opts);
    return { secrets: [secretMount(secret, DATASOURCE_PROVISIONING_FILE, uid)] };
}
