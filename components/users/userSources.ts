import { createReadStream } from "fs";
import { stat } from "fs/promises";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { LineCounter, parseDocument, type YAMLError } from "yaml";
import { parseUserList, type UserListOptions, type UserRecord } from "./users";
import { describeKind, DuplicateKeyError, InvalidInputError, parseJsonText } from "../validation";

/**
 * The largest user list a source may give, in bytes, file or HTTP body alike: room for some
 * hundred thousand records, and a bound on what one run holds in memory.
 */
export const USER_LIST_MAX_BYTES = 16 * 1024 * 1024;

function describeLimit(bytes: number): string {
    const mib = bytes / (1024 * 1024);
    return `${bytes} bytes${Number.isInteger(mib) ? ` (${mib} MiB)` : ""}`;
}

/** At most this many YAML aliases are expanded: a small file cannot grow into a huge list. */
const MAX_YAML_ALIASES = 100;

/**
 * Where the platform's user list comes from. PUG reads `pug:users` into one of the sources below;
 * a stack that imports the components can hand `loadUsers` a source of its own (a database query,
 * a list built in code) and get the same validation and messages.
 */
export interface UserSource {
    /** Names the source at the start of every message: a config key, a file path, an URL without credentials. */
    describe(): string;
    /** The raw list, not yet validated (`loadUsers` validates it). Rejects with a UserSourceError. */
    load(): Promise<unknown>;
}

/** The source could not be read (file missing, not YAML, the API did not answer a list...). */
export class UserSourceError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "UserSourceError";
    }
}

/** Reads and validates a source's list: every problem is reported before anything is registered. */
export async function loadUsers(source: UserSource, options: UserListOptions = {}): Promise<UserRecord[]> {
    return parseUserList(source.describe(), await source.load(), options);
}

/** A list already in hand: the stack config's inline `pug:users`, or a list a stack builds itself. */
export class InlineUserSource implements UserSource {
    /** @param label names the list in messages. @default "pug:users" */
    constructor(private readonly list: unknown, private readonly label = "pug:users") {}
    describe(): string {
        return this.label;
    }
    async load(): Promise<unknown> {
        return this.list;
    }
}

/** The project's root: where Pulumi.yaml is; relative paths in the configuration start there. */
export function projectRoot(): string {
    return pulumi.runtime.getRootDirectory() || process.cwd();
}

/**
 * A YAML or JSON file (`.json` is parsed as JSON, anything else as YAML, which also reads JSON),
 * of at most `maxBytes`. Nothing is read silently: a key given twice, a YAML tag (PUG reads
 * plain data only) and an alias expanded too often are errors naming the file and the place.
 */
export class FileUserSource implements UserSource {
    private readonly absolutePath: string;
    private readonly maxBytes: number;
    /**
     * @param file the path as written in the configuration; relative to `root`.
     * @param root @default the project root (the directory of Pulumi.yaml)
     * @param options.maxBytes the largest file accepted. @default USER_LIST_MAX_BYTES (16 MiB)
     */
    constructor(private readonly file: string, root: string = projectRoot(), options: { maxBytes?: number } = {}) {
        this.absolutePath = path.resolve(root, file);
        this.maxBytes = options.maxBytes ?? USER_LIST_MAX_BYTES;
    }
    describe(): string {
        return this.file;
    }
    async load(): Promise<unknown> {
        const text = await this.read();
        if (path.extname(this.file).toLowerCase() === ".json") {
            try {
                return parseJsonText(text);
            } catch (err) {
                if (err instanceof DuplicateKeyError) throw new UserSourceError(`${this.file}: ${err.message}`);
                throw new UserSourceError(`${this.file}: is not valid JSON: ${(err as Error).message}`);
            }
        }
        const lines = new LineCounter();
        // No YAML 1.1 types either (!!binary, !!set...): a user record holds plain data.
        const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter: lines, resolveKnownTags: false });
        // Warnings too: yaml only warns about an unknown tag and reads the plain value underneath.
        const problems = [...doc.errors, ...doc.warnings];
        if (problems.length) throw new UserSourceError(problems.map((e) => this.describeYamlProblem(e, text, lines)).join("\n"));
        try {
            return doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
        } catch (err) {
            if (!(err instanceof ReferenceError)) throw err;
            throw new UserSourceError(
                `${this.file}: expands YAML aliases more than ${MAX_YAML_ALIASES} times (a guard against a small file growing into a huge list): write the list out`,
            );
        }
    }

    /** The file's text: refused from its size when it is too large, and never read beyond the limit (a file that grows, a device). */
    private async read(): Promise<string> {
        const cannotRead = (why: string) => new UserSourceError(`${this.file}: cannot read the user list (${this.absolutePath}): ${why}`);
        try {
            const stats = await stat(this.absolutePath);
            if (stats.isDirectory()) throw cannotRead("it is a directory");
            if (stats.size > this.maxBytes) throw new UserSourceError(`${this.file}: is ${stats.size} bytes, more than the ${describeLimit(this.maxBytes)} a user list may have`);
            const bytes = await readLimited(createReadStream(this.absolutePath), this.maxBytes);
            if (bytes === undefined) throw new UserSourceError(`${this.file}: is larger than the ${describeLimit(this.maxBytes)} a user list may have`);
            return bytes.toString("utf8");
        } catch (err) {
            if (err instanceof UserSourceError) throw err;
            const code = (err as NodeJS.ErrnoException).code;
            throw cannotRead(code === "ENOENT" ? "no such file" : (err as Error).message);
        }
    }

    private describeYamlProblem(e: YAMLError, text: string, lines: LineCounter): string {
        const { line, col } = lines.linePos(e.pos[0]);
        const message = e.code === "TAG_RESOLVE_FAILED" && text[e.pos[0]] === "!"
            ? `unknown YAML tag ${text.slice(e.pos[0], e.pos[1])}: tags are not read, write the plain value`
            : e.message;
        return `${this.file}: line ${line}, column ${col}: ${message}`;
    }
}

/** The HTTP source's settings. */
export interface HttpUserSourceArgs {
    /** The platform API's endpoint answering the list as JSON (http:// only for loopback addresses when a token is sent). */
    url: string;
    /** Sent as `Authorization: Bearer <token>`; never part of a message or log line. @default no Authorization header */
    token?: string;
    /** Time for one attempt, headers and body, in milliseconds. @default 10000 */
    timeoutMs?: number;
    /** Further attempts after a network error, a timeout or a 5xx answer. @default 2 */
    retries?: number;
    /** Wait before the first retry, doubled before each next one, in milliseconds. @default 500 */
    retryDelayMs?: number;
    /** The largest body accepted, in bytes. @default USER_LIST_MAX_BYTES (16 MiB), as for a file */
    maxBytes?: number;
    /** Where retries are reported (the stack program passes Pulumi's log). @default nowhere */
    log?: (message: string) => void;
}

type Attempt = { ok: true; list: unknown[] } | { ok: false; retry: boolean; reason: string };

/**
 * The platform's HTTP API. One GET per attempt, bounded in time and size; a few retries with
 * backoff on network errors, timeouts and 5xx; refused without retry: redirects (not followed, so
 * the token never goes elsewhere), 4xx, HTML (a sign-in page), a body that is not JSON or not a
 * list. The token is scrubbed from every message, whatever the server echoes.
 */
export class HttpUserSource implements UserSource {
    private readonly url: URL;
    private readonly label: string;
    private readonly token?: string;
    private readonly timeoutMs: number;
    private readonly retries: number;
    private readonly retryDelayMs: number;
    private readonly maxBytes: number;
    private readonly log: (message: string) => void;

    constructor(args: HttpUserSourceArgs) {
        let url: URL;
        try {
            url = new URL(args.url);
        } catch {
            throw new InvalidInputError(["HttpUserSource: url is not a valid URL"]);
        }
        this.url = url;
        // Neither credentials nor the query string (which may carry a key) appear in messages.
        this.label = `${url.protocol}//${url.host}${url.pathname}`;
        const problems: string[] = [];
        if (url.protocol !== "https:" && url.protocol !== "http:") problems.push(`${this.label}: url must be an http:// or https:// URL`);
        if (url.username || url.password) problems.push(`${this.label}: url must not carry credentials; put the token in the token field (a secret)`);
        if (args.token !== undefined && url.protocol === "http:" && !isLoopback(url.hostname)) {
            problems.push(`${this.label}: the token would travel in plain text; use https:// (http:// is accepted for loopback addresses only)`);
        }
        // It goes into a header: a stray newline or space (a token pasted with one) is refused here,
        // not retried as a network error.
        if (args.token !== undefined && !/^[\x21-\x7e]+$/.test(args.token)) {
            problems.push(`${this.label}: token must be printable ASCII without spaces or line breaks (it is sent in an HTTP header)`);
        }
        if (problems.length) throw new InvalidInputError(problems);
        this.token = args.token;
        this.timeoutMs = args.timeoutMs ?? 10_000;
        this.retries = args.retries ?? 2;
        this.retryDelayMs = args.retryDelayMs ?? 500;
        this.maxBytes = args.maxBytes ?? USER_LIST_MAX_BYTES;
        this.log = args.log ?? (() => {});
    }

    describe(): string {
        return this.label;
    }

    async load(): Promise<unknown> {
        const attempts = this.retries + 1;
        for (let attempt = 1; ; attempt++) {
            const outcome = await this.attempt();
            if (outcome.ok) return this.refuseEcho(outcome.list);
            if (!outcome.retry) throw new UserSourceError(this.scrub(`${this.label}: ${outcome.reason}`));
            if (attempt === attempts) {
                throw new UserSourceError(this.scrub(`${this.label}: no usable answer after ${attempts} attempts; the last: ${outcome.reason}`));
            }
            const delay = this.retryDelayMs * 2 ** (attempt - 1);
            this.log(this.scrub(`${this.label}: attempt ${attempt} of ${attempts} failed (${outcome.reason}); retrying in ${delay} ms`));
            await new Promise((resolve) => setTimeout(resolve, delay));
        }
    }

    private async attempt(): Promise<Attempt> {
        const headers: Record<string, string> = { accept: "application/json", "user-agent": "pug-user-source" };
        if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
        // One deadline for the headers and the whole body: a server that trickles bytes times out too.
        const signal = AbortSignal.timeout(this.timeoutMs);
        let response: Response;
        let body: Buffer | undefined;
        try {
            response = await fetch(this.url, { headers, redirect: "manual", signal });
            if (response.status >= 200 && response.status < 300) {
                body = await readLimited(response.body, this.maxBytes);
                if (body === undefined) return { ok: false, retry: false, reason: `answered with a body larger than ${this.maxBytes} bytes` };
            } else {
                await response.body?.cancel();
            }
        } catch (err) {
            return { ok: false, retry: true, reason: describeNetworkError(err, this.timeoutMs) };
        }
        const status = `${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
        if (response.status >= 500) return { ok: false, retry: true, reason: `answered ${status}` };
        if (response.status >= 300 && response.status < 400) {
            const location = response.headers.get("location");
            const target = location ? ` to ${withoutQuery(location, this.url)}` : "";
            return { ok: false, retry: false, reason: `answered ${status}, a redirect${target}; redirects are not followed (the token would go with them): use the final URL` };
        }
        if (response.status === 401 || response.status === 403) {
            const hint = this.token === undefined ? "no token is configured (set token as a secret)" : "the token was refused";
            return { ok: false, retry: false, reason: `answered ${status}: ${hint}` };
        }
        if (response.status >= 400 || body === undefined) return { ok: false, retry: false, reason: `answered ${status}: check the URL` };
        return interpretBody(body, response.headers.get("content-type") ?? "");
    }

    /**
     * The list, unless a field holds the token (or a key is it): a server that echoes its
     * credentials into records would otherwise have them validated, quoted in error messages
     * (JSON-escaped, where scrubbing misses them) or made into names of resources.
     */
    private refuseEcho(list: unknown[]): unknown[] {
        const token = this.token;
        if (!token) return list;
        const holding = (value: unknown, at: string): string | undefined => {
            if (typeof value === "string") return value.includes(token) ? at : undefined;
            if (!value || typeof value !== "object") return undefined;
            for (const [key, inner] of Object.entries(value)) {
                const here = at ? `${at}.${key}` : key;
                if (key.includes(token)) return here;
                const found = holding(inner, here);
                if (found) return found;
            }
            return undefined;
        };
        list.forEach((entry, index) => {
            const field = holding(entry, "");
            if (field !== undefined) {
                throw new UserSourceError(this.scrub(`${this.label}: entry ${index + 1}: ${field || "the entry"} holds the token this source is read with: a list that echoes its credentials is refused`));
            }
        });
        return list;
    }

    /** Removes the token from a message, whatever put it there. */
    private scrub(message: string): string {
        if (!this.token) return message;
        return [this.token, encodeURIComponent(this.token)].reduce((m, t) => m.split(t).join("[redacted]"), message);
    }
}

/** Reads a body or a file up to `maxBytes`; undefined when it is larger (the rest is not read). */
async function readLimited(stream: AsyncIterable<Uint8Array> | null, maxBytes: number): Promise<Buffer | undefined> {
    if (!stream) return Buffer.alloc(0);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of stream) {
        size += chunk.byteLength;
        // Leaving the loop cancels the stream (closes the file): the rest is never read.
        if (size > maxBytes) return undefined;
        chunks.push(Buffer.from(chunk));
    }
    return Buffer.concat(chunks);
}

function interpretBody(body: Buffer, contentType: string): Attempt {
    const text = body.toString("utf8").replace(/^\uFEFF/, "");
    const refuse = (reason: string): Attempt => ({ ok: false, retry: false, reason });
    if (/html/i.test(contentType) || /^\s*</.test(text)) {
        return refuse("answered with an HTML page instead of JSON (a sign-in page?): check the URL and the token");
    }
    let value: unknown;
    try {
        value = parseJsonText(text);
    } catch (err) {
        if (err instanceof DuplicateKeyError) {
            return refuse(`answered with JSON that gives ${JSON.stringify(err.key)} twice in one object (line ${err.line}, column ${err.column}): which one counts would be left to the parser`);
        }
        // The parser's message quotes the body, which may hold anything: it is not repeated.
        return refuse(`answered with a body that is not JSON (content-type ${contentType || "missing"}, ${body.length} bytes)`);
    }
    if (!Array.isArray(value)) {
        const listField = value && typeof value === "object" ? Object.keys(value).find((k) => Array.isArray((value as Record<string, unknown>)[k])) : undefined;
        const hint = listField ? `; the list may be under "${listField}": point the URL at an endpoint answering the list itself` : "";
        return refuse(`answered with JSON that is not a list of user records (got ${describeKind(value)})${hint}`);
    }
    return { ok: true, list: value };
}

function describeNetworkError(err: unknown, timeoutMs: number): string {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    if (e.name === "TimeoutError" || e.name === "AbortError") return `no complete answer within ${timeoutMs} ms`;
    const cause = e.cause?.code ?? e.cause?.message;
    return `the request failed (${cause ?? e.message})`;
}

function withoutQuery(location: string, base: URL): string {
    try {
        const u = new URL(location, base);
        return `${u.protocol}//${u.host}${u.pathname}`;
    } catch {
        return "an invalid location";
    }
}

function isLoopback(hostname: string): boolean {
    return hostname === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(hostname) || hostname === "[::1]";
}
