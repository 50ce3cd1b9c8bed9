/**
 * How PUG's stack reads the user list's source from `pug:users`: a list (inline), `{ file }` or
 * `{ url, token?, timeoutMs? }`. The sources themselves are the library's (components/users).
 */
import type * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { FileUserSource, HttpUserSource, InlineUserSource, type UserSource } from "../components/users/userSources";
import { describeFieldIssues, describeKind, DuplicateKeyError, InvalidInputError, parseJsonText } from "../components/validation";

/** `pug:users` as `{ file }`. */
const fileSourceConfigSchema = z.strictObject({
    file: z.string({ error: "must be a path (relative to the project root)" }).min(1, "must be a path (relative to the project root)"),
});
/** `pug:users` as `{ url, token?, timeoutMs? }`. */
const httpSourceConfigSchema = z.strictObject({
    url: z
        .string({ error: "must be an http:// or https:// URL" })
        .refine((url) => /^https?:\/\//i.test(url) && URL.canParse(url), "must be an http:// or https:// URL"),
    token: z.string({ error: "must be a string (set it with `pulumi config set --secret --path pug:users.token`)" }).optional(),
    timeoutMs: z
        .number({ error: "must be a whole number of milliseconds between 100 and 120000" })
        .int("must be a whole number of milliseconds between 100 and 120000")
        .min(100, "must be a whole number of milliseconds between 100 and 120000")
        .max(120_000, "must be a whole number of milliseconds between 100 and 120000")
        .optional(),
});

/** What a stack program passes to build a source from its configuration. */
export interface UserSourceContext {
    /** Relative file paths start here. @default the project root */
    root?: string;
    /** Where the HTTP source reports retries. @default nowhere */
    log?: (message: string) => void;
}

/**
 * The source a configuration value describes: a list (inline), `{ file }`, or `{ url, token?,
 * timeoutMs? }`. `key` names the value in messages ("pug:users"). Absent means an empty inline list.
 */
export function userSourceFromConfig(key: string, value: unknown, context: UserSourceContext = {}): UserSource {
    if (value === undefined || Array.isArray(value)) return new InlineUserSource(value ?? [], key);
    const shape = `must be a list of user records, { file: "users.yaml" } or { url: "https://...", token?, timeoutMs? }`;
    if (!value || typeof value !== "object") throw new InvalidInputError([`${key}: ${shape} (got ${describeKind(value)})`]);
    const parse = <S extends z.ZodObject>(schema: S): z.output<S> => {
        const parsed = schema.safeParse(value, { reportInput: true });
        if (!parsed.success) throw new InvalidInputError(describeFieldIssues(parsed.error, Object.keys(schema.shape)).map((line) => `${key}: ${line}`));
        return parsed.data;
    };
    if ("file" in value) return new FileUserSource(parse(fileSourceConfigSchema).file, context.root);
    if ("url" in value) {
        const { url, token, timeoutMs } = parse(httpSourceConfigSchema);
        return new HttpUserSource({ url, token, timeoutMs, log: context.log });
    }
    throw new InvalidInputError([`${key}: ${shape} (got an object with neither "file" nor "url")`]);
}

/**
 * The source `pug:users` (or another key of `config`) describes. A value that is not JSON (`pulumi
 * config set pug:users users.yaml`) is read as the string it is and refused with the three shapes,
 * instead of a parse error that would quote the value.
 */
export function readUserSourceConfig(config: pulumi.Config, key = "users", context: UserSourceContext = {}): UserSource {
    const raw = config.get(key);
    const label = `${config.name}:${key}`;
    let value: unknown = raw;
    if (raw !== undefined) {
        try {
            value = parseJsonText(raw);
        } catch (err) {
            if (err instanceof DuplicateKeyError) throw new InvalidInputError([`${label}: ${err.message}`]);
            // not JSON: kept as a string
        }
    }
    return userSourceFromConfig(label, value, context);
}
