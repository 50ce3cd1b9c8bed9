import { z } from "zod";
import { datasourceListSchema, type Datasource } from "../specs/datasources";
import { DEFAULT_MAX_REPLICAS } from "../grafanaTenant";
import { imageReferenceSchema } from "../specs/imageReference";
import { channelNameSchema } from "../specs/releaseChannels";
import { settingsProblems, THEMES, type GrafanaSettings, type Theme } from "../specs/tenantSettings";
import { describeFieldIssues, describeKind, InvalidInputError } from "../validation";

/**
 * The user record: one entry of the platform's user list. Every source (stack config, file, HTTP
 * API, a loader of the stack's own) yields these, validated by the same schema, with errors that
 * name the source, the entry (position and id) and the field:
 *
 *     users.yaml: entry 7 (id "ac-me"): replicas must be a whole number >= 1
 */

/**
 * A lowercase letter, then lowercase letters, digits or dashes, not ending with a dash; at most 40
 * characters. The id names a Swarm service (`grafana-<id>`), which Docker accepts only as a DNS
 * label: one ending with a dash would pass here and fail at `pulumi up`.
 */
export const USER_ID_PATTERN = /^[a-z](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
const USER_ID_RULE = "must be a lowercase letter, then lowercase letters, digits or dashes, not ending with a dash, at most 40 characters";

/**
 * Ids the platform keeps for itself, with the reason given to whoever picks one. Users' paths are
 * `/<id>/grafana/` and their services `grafana-<id>`, while the platform's own services are
 * `pug-*`, so no id can take a platform service's name; what can clash is the front proxy.
 */
export const RESERVED_USER_IDS: Readonly<Record<string, string>> = {
    healthz: "the front proxy answers its own health check at /healthz",
    livez: "kept for the front proxy's health checks",
    readyz: "kept for the front proxy's health checks",
    metrics: "kept for the front proxy's monitoring endpoints",
    status: "kept for the front proxy's monitoring endpoints",
    "stub-status": "kept for the front proxy's monitoring endpoints",
    "nginx-status": "kept for the front proxy's monitoring endpoints",
    auth: "kept for the platform's sign-in paths in front of every Grafana",
    login: "kept for the platform's sign-in paths in front of every Grafana",
    logout: "kept for the platform's sign-in paths in front of every Grafana",
    oauth2: "kept for the platform's sign-in paths in front of every Grafana",
    // The proxy routes ids through an nginx `map`, where these words are parameters, not keys:
    // a user "default" would become where unknown ids are sent.
    default: "a special word of the nginx map that routes user ids",
    hostnames: "a special word of the nginx map that routes user ids",
    include: "a special word of the nginx map that routes user ids",
    volatile: "a special word of the nginx map that routes user ids",
};

const WHOLE_AT_LEAST_ONE = "must be a whole number >= 1";
// A letter first, as every grafana.ini section and key. This also refuses names such as
// "__proto__", which zod's record would otherwise drop without a word.
const INI_NAME = /^[a-zA-Z][a-zA-Z0-9_.-]*$/;
const SECTION_NAME_RULE = 'is not a valid section name (a letter, then letters, digits, "_", "." or "-")';
const KEY_NAME_RULE = 'is not a valid key (a letter, then letters, digits, "_", "." or "-")';

/** Section and key names as written, checked before zod's record sees (and may drop) them. */
function checkSettingsNames(raw: unknown, ctx: z.RefinementCtx): void {
    const own = (v: unknown) => (v && typeof v === "object" && !Array.isArray(v) ? Object.keys(v) : []);
    for (const section of own(raw)) {
        if (!INI_NAME.test(section)) ctx.addIssue({ code: "custom", path: [section], message: SECTION_NAME_RULE });
        for (const key of own((raw as Record<string, unknown>)[section])) {
            if (!INI_NAME.test(key)) ctx.addIssue({ code: "custom", path: [section, key], message: KEY_NAME_RULE });
        }
    }
}

const settingsSchema = z
    .unknown()
    .superRefine(checkSettingsNames)
    .pipe(
        z.record(
            z.string(),
            z.record(
                z.string(),
                z.union([z.string(), z.number(), z.boolean()], { error: (iss) => `must be a string, number or boolean (got ${describeKind(iss.input)})` }),
                { error: (iss) => `must be a map of keys to values (got ${describeKind(iss.input)})` },
            ),
            { error: (iss) => `must be a map of sections to maps of keys to values, { section: { key: value } } (got ${describeKind(iss.input)})` },
        ),
    )
    .superRefine((settings, ctx) => {
        for (const p of settingsProblems(settings)) ctx.addIssue({ code: "custom", path: [p.section, p.key], message: p.message });
    });

/** @internal */
export const userRecordSchema = z.strictObject(
    {
        id: z
            .string({ error: (iss) => (iss.input === undefined ? "is required" : `must be a string (got ${describeKind(iss.input)})`) })
            .regex(USER_ID_PATTERN, USER_ID_RULE)
            .refine((id) => !Object.hasOwn(RESERVED_USER_IDS, id), { error: (iss) => `is reserved: ${RESERVED_USER_IDS[iss.input as string]}` }),
        active: z.boolean({ error: (iss) => `must be true or false (got ${describeKind(iss.input)})` }).default(true),
        replicas: z.number({ error: WHOLE_AT_LEAST_ONE }).int({ error: WHOLE_AT_LEAST_ONE }).min(1, { error: WHOLE_AT_LEAST_ONE }).optional(),
        image: imageReferenceSchema.optional(),
        theme: z.enum(THEMES, { error: (iss) => `must be one of ${THEMES.join(", ")} (got ${JSON.stringify(iss.input) ?? "nothing"})` }).optional(),
        settings: settingsSchema.optional(),
        /** The release channel whose image the user runs (pug:grafana.channels). */
        channel: channelNameSchema.optional(),
        /** Datasources provisioned into the user's Grafana; credentials by reference to pug:userSecrets. */
        datasources: datasourceListSchema.optional(),
    },
    { error: (iss) => (iss.code === "invalid_type" ? `must be a user record, an object with at least an id (got ${describeKind(iss.input)})` : undefined) },
).superRefine((user, ctx) => {
    if (user.image !== undefined && user.channel !== undefined) {
        ctx.addIssue({ code: "custom", path: ["image"], message: `conflicts with channel "${user.channel}": pin an image or pick a channel, not both` });
    }
});

/** The fields a user record may have: unknown ones are refused with the nearest of these as a hint. */
export const USER_RECORD_FIELDS = Object.keys(userRecordSchema.shape);

/**
 * A validated user record, defaults applied: what parseUserList returns (written out, not
 * inferred from userRecordSchema, so the declarations name no zod type; test/publicApi.test.ts
 * checks the two agree).
 */
export interface UserRecord {
    id: string;
    /** An inactive user keeps its database, not its Grafana service. */
    active: boolean;
    replicas?: number;
    /** An image pinned for this user (instead of a channel). */
    image?: string;
    theme?: Theme;
    /** grafana.ini overrides, within the settings policy (tenantSettings.ts). */
    settings?: GrafanaSettings;
    /** The release channel whose image the user runs (pug:grafana.channels). */
    channel?: string;
    /** Datasources provisioned into the user's Grafana; credentials by reference to pug:userSecrets. */
    datasources?: Datasource[];
}
/** A user record as written in a source (defaults not yet applied). @internal */
export type UserRecordInput = z.input<typeof userRecordSchema>;

/** What a user list is checked against beyond the record's own rules. */
export interface UserListOptions {
    /** The most replicas a record may ask for (`pug:grafana.maxReplicas`). @default DEFAULT_MAX_REPLICAS (10) */
    maxReplicas?: number;
}

/** At most this many problems are listed; a list broken everywhere is summarised after them. */
const MAX_PROBLEMS_LISTED = 50;

/**
 * Validates a raw user list. `source` names where it came from ("pug:users", "users.yaml", an
 * URL) and starts every line of the error. Throws one InvalidInputError listing every problem,
 * so nothing is registered from a list that is wrong anywhere.
 */
export function parseUserList(source: string, raw: unknown, options: UserListOptions = {}): UserRecord[] {
    if (!Array.isArray(raw)) throw new InvalidInputError([`${source}: must be a list of user records (got ${describeKind(raw)})`]);
    const maxReplicas = options.maxReplicas ?? DEFAULT_MAX_REPLICAS;
    const problems: string[] = [];
    const users: UserRecord[] = [];
    const firstByFoldedId = new Map<string, { index: number; id: string }>();
    raw.forEach((entry, index) => {
        const where = `${source}: ${describeEntry(index, entry)}: `;
        const parsed = userRecordSchema.safeParse(entry, { reportInput: true });
        if (parsed.success) {
            users.push(parsed.data);
            // the bound is the stack's, so it is not part of the record's schema
            if ((parsed.data.replicas ?? 0) > maxReplicas) problems.push(`${where}replicas must be at most ${maxReplicas} (pug:grafana.maxReplicas)`);
        } else problems.push(...describeFieldIssues(parsed.error, USER_RECORD_FIELDS).map((line) => where + line));

        const id = rawId(entry);
        if (id === undefined) return;
        // Case-folded: "Acme" and "acme" would share a URL path in a case-insensitive proxy rule
        // and a database name on a case-insensitive MySQL.
        const first = firstByFoldedId.get(id.toLowerCase());
        if (first === undefined) firstByFoldedId.set(id.toLowerCase(), { index, id });
        else problems.push(`${where}id duplicates entry ${first.index + 1}${first.id === id ? "" : ` (${JSON.stringify(first.id)} and ${JSON.stringify(id)} differ only in case)`}`);
    });
    if (problems.length) {
        const listed = problems.slice(0, MAX_PROBLEMS_LISTED);
        if (problems.length > listed.length) listed.push(`${source}: ... and ${problems.length - listed.length} more problems`);
        throw new InvalidInputError(listed);
    }
    return users;
}

function rawId(entry: unknown): string | undefined {
    const id = entry && typeof entry === "object" && "id" in entry ? (entry as { id: unknown }).id : undefined;
    return typeof id === "string" ? id : undefined;
}

function describeEntry(index: number, entry: unknown): string {
    const id = rawId(entry);
    if (id === undefined) return `entry ${index + 1}`;
    return `entry ${index + 1} (id ${JSON.stringify(id.length > 60 ? `${id.slice(0, 60)}…` : id)})`;
}
