/**
 * STAND-INS for the two Pulumi resource providers that cannot be built on this machine: `mysql`
 * and `random`. The Go module proxy here refuses the pulumi-mysql and pulumi-random provider
 * modules and the Terraform providers they bridge (README, "The real engine"), so `pulumi up`
 * would stop at PUG's first mysql.Database or random.RandomPassword. Everything else in the
 * end-to-end test is real: the `pulumi` CLI, its language host, the docker provider, MariaDB.
 *
 * Each stand-in is a real provider plugin (the engine launches it and speaks Pulumi's provider
 * gRPC protocol to it: CheckConfig, Configure, Check, Diff, Create, Read, Update, Delete), and
 * does what the real provider does to the few resources PUG declares, in SQL against the
 * stack's MariaDB or with Node's CSPRNG. What it cannot show is how the REAL providers behave:
 * their own validation (e.g. the mysql provider's `tls` values), their diffs, their quirks.
 *
 * Run as `node standinProviders.js mysql|random ENGINE_ADDRESS` (e2e: a `pulumi-resource-NAME`
 * launcher on PATH); prints its port as a provider must.
 */
import * as grpc from "@grpc/grpc-js";
import { randomInt } from "crypto";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { createConnection, type Connection } from "mysql2/promise";
// Pulumi's wire markers: a secret is an object with the signature key; an unknown, a fixed string
import { specialSecretSig as SECRET_SIG, specialSigKey as SIG, unknownValue as UNKNOWN } from "@pulumi/pulumi/runtime/rpc";
const providerRpc = require("@pulumi/pulumi/proto/provider_grpc_pb");
const providerProto = require("@pulumi/pulumi/proto/provider_pb");
const pluginProto = require("@pulumi/pulumi/proto/plugin_pb");
const emptyProto = require("google-protobuf/google/protobuf/empty_pb");


type Props = Record<string, any>;

/** Plain values, secrets unwrapped (the stand-in re-marks the fields its provider declares secret). */
function unwrap(value: any): any {
    if (Array.isArray(value)) return value.map(unwrap);
    if (value && typeof value === "object") {
        if (value[SIG] === SECRET_SIG) return unwrap(value.value);
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrap(v)]));
    }
    return value;
}
const decode = (s: any): Props => (s ? unwrap(s.toJavaScript()) : {});
function encode(props: Props, secretKeys: string[]): any {
    const wrapped = Object.fromEntries(
        Object.entries(props)
            .filter(([, v]) => v !== undefined)
            .map(([k, v]) => [k, secretKeys.includes(k) ? { [SIG]: SECRET_SIG, value: v } : v]),
    );
    return Struct.fromJavaScript(wrapped);
}
const hasUnknown = (props: Props) => JSON.stringify(props).includes(UNKNOWN);

interface ResourceKind {
    /** Outputs to mark secret. */
    secrets: string[];
    /** Inputs whose change replaces the resource; any other change is an update. */
    replaceOn: (keyof Props)[] | "all";
    defaults?: Props;
    create(inputs: Props): Promise<{ id: string; outs: Props }>;
    update?(id: string, olds: Props, news: Props): Promise<Props>;
    /** The resource as it is now, or undefined when it is gone. */
    read(id: string, props: Props): Promise<Props | undefined>;
    delete(id: string, props: Props): Promise<void>;
}

// ---------------------------------------------------------------- random

const LOWER = "abcdefghijklmnopqrstuvwxyz";
const UPPER = LOWER.toUpperCase();
const NUMERIC = "0123456789";
const DEFAULT_SPECIAL = "!@#$%&*()-_=+[]{}<>:?";

/** random_password's algorithm: the minimum of each class first, the rest from all, shuffled. */
function randomPassword(p: Props): string {
    const classes = [
        { on: p.lower !== false, chars: LOWER, min: p.minLower ?? 0 },
        { on: p.upper !== false, chars: UPPER, min: p.minUpper ?? 0 },
        { on: p.numeric !== false && p.number !== false, chars: NUMERIC, min: p.minNumeric ?? 0 },
        { on: p.special !== false, chars: p.overrideSpecial ?? DEFAULT_SPECIAL, min: p.minSpecial ?? 0 },
    ].filter((c) => c.on && c.chars.length);
    const pick = (chars: string) => chars[randomInt(chars.length)];
    const out = classes.flatMap((c) => Array.from({ length: c.min }, () => pick(c.chars)));
    const all = classes.map((c) => c.chars).join("");
    while (out.length < p.length) out.push(pick(all));
    for (let i = out.length - 1; i > 0; i--) {
        const j = randomInt(i + 1);
        [out[i], out[j]] = [out[j], out[i]];
    }
    return out.join("");
}

const randomKinds: Record<string, ResourceKind> = {
    "random:index/randomPassword:RandomPassword": {
        secrets: ["result"],
        replaceOn: "all",
        defaults: { lower: true, upper: true, numeric: true, special: true },
        async create(inputs) {
            return { id: "none", outs: { ...inputs, result: randomPassword(inputs) } };
        },
        async read(_id, props) {
            return props;
        },
        async delete() {},
    },
};

// ---------------------------------------------------------------- mysql

let mysqlSettings: Props = {};
async function sql<T>(action: (c: Connection) => Promise<T>): Promise<T> {
    const [host, port] = String(mysqlSettings.endpoint).split(":");
    const connection = await createConnection({ host, port: Number(port ?? 3306), user: mysqlSettings.username, password: mysqlSettings.password });
    try {
        return await action(connection);
    } finally {
        await connection.end();
    }
}
const ident = (name: string) => `\`${String(name).replace(/`/g, "``")}\``;
const grantId = (p: Props) => `${p.user}@${p.host ?? "localhost"}:${p.database}`;

const mysqlKinds: Record<string, ResourceKind> = {
    "mysql:index/database:Database": {
        secrets: [],
        replaceOn: ["name"],
        defaults: { defaultCharacterSet: "utf8", defaultCollation: "utf8_general_ci" },
        async create(p) {
            await sql((c) => c.query(`CREATE DATABASE ${ident(p.name)} CHARACTER SET ${ident(p.defaultCharacterSet)} COLLATE ${ident(p.defaultCollation)}`));
            return { id: p.name, outs: p };
        },
        async update(id, _olds, news) {
            await sql((c) => c.query(`ALTER DATABASE ${ident(id)} CHARACTER SET ${ident(news.defaultCharacterSet)} COLLATE ${ident(news.defaultCollation)}`));
            return news;
        },
        async read(id, props) {
            const [rows] = await sql((c) => c.query("SELECT DEFAULT_CHARACTER_SET_NAME AS cs, DEFAULT_COLLATION_NAME AS co FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", [id]));
            const row = (rows as any[])[0];
            return row && { ...props, name: id, defaultCharacterSet: row.cs, defaultCollation: row.co };
        },
        async delete(id) {
            await sql((c) => c.query(`DROP DATABASE ${ident(id)}`));
        },
    },
    "mysql:index/user:User": {
        secrets: ["plaintextPassword", "password"],
        replaceOn: ["user", "host"],
        defaults: { host: "localhost" },
        async create(p) {
            await sql((c) => c.query("CREATE USER ?@? IDENTIFIED BY ?", [p.user, p.host, p.plaintextPassword]));
            return { id: `${p.user}@${p.host}`, outs: p };
        },
        async update(_id, _olds, news) {
            await sql((c) => c.query("ALTER USER ?@? IDENTIFIED BY ?", [news.user, news.host, news.plaintextPassword]));
            return news;
        },
        async read(_id, props) {
            const [rows] = await sql((c) => c.query("SELECT 1 FROM mysql.user WHERE User = ? AND Host = ?", [props.user, props.host]));
            return (rows as any[]).length ? props : undefined;
        },
        async delete(_id, props) {
            await sql((c) => c.query("DROP USER ?@?", [props.user, props.host]));
        },
    },
    "mysql:index/grant:Grant": {
        secrets: [],
        replaceOn: "all",
        defaults: { host: "localhost", table: "*" },
        async create(p) {
            const on = `${ident(p.database)}.${p.table === "*" ? "*" : ident(p.table)}`;
            await sql((c) => c.query(`GRANT ${(p.privileges as string[]).join(", ")} ON ${on} TO ?@?`, [p.user, p.host]));
            return { id: grantId(p), outs: p };
        },
        async read(_id, props) {
            const [rows] = await sql((c) =>
                c.query("SELECT 1 FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ? AND TABLE_SCHEMA = ?", [`'${props.user}'@'${props.host}'`, props.database]),
            );
            return (rows as any[]).length ? props : undefined;
        },
        async delete(_id, props) {
            const on = `${ident(props.database)}.${props.table === "*" ? "*" : ident(props.table)}`;
            // the user may be gone already (deleted first): nothing left to revoke then
            await sql((c) => c.query(`REVOKE ${(props.privileges as string[]).join(", ")} ON ${on} FROM ?@?`, [props.user, props.host])).catch((err) => {
                if (err.code !== "ER_NONEXISTING_GRANT") throw err;
            });
        },
    },
};

// ---------------------------------------------------------------- the gRPC provider

function serve(pkg: string, kinds: Record<string, ResourceKind>): void {
    const kindOf = (urn: string): ResourceKind => {
        const type = urn.split("::")[2]?.split("$").pop() ?? "";
        const kind = kinds[type];
        if (!kind) throw new Error(`the ${pkg} stand-in does not implement ${type}`);
        return kind;
    };
    const handle = <Req, Res>(fn: (req: Req) => Promise<Res> | Res) => async (call: { request: Req }, callback: (err: any, res?: Res) => void) => {
        try {
            callback(null, await fn(call.request));
        } catch (err: any) {
            callback({ code: grpc.status.UNKNOWN, details: `${pkg} stand-in: ${err?.message ?? err}` });
        }
    };
    const changedKeys = (olds: Props, news: Props) =>
        [...new Set([...Object.keys(olds), ...Object.keys(news)])].filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));

    const implementation = {
        getPluginInfo: handle(() => new pluginProto.PluginInfo().setVersion("0.0.0-standin")),
        getSchema: handle(() => new providerProto.GetSchemaResponse().setSchema("{}")),
        checkConfig: handle((req: any) => new providerProto.CheckResponse().setInputs(req.getNews())),
        diffConfig: handle(() => new providerProto.DiffResponse().setChanges(providerProto.DiffResponse.DiffChanges.DIFF_UNKNOWN)),
        configure: handle((req: any) => {
            const fromVariables = Object.fromEntries(
                Object.entries(req.getVariablesMap().toObject() as [string, string][]).map(([k, v]) => [k.split(":").pop()!, v]),
            );
            mysqlSettings = { ...fromVariables, ...decode(req.getArgs()) };
            return new providerProto.ConfigureResponse().setAcceptsecrets(true).setSupportspreview(true);
        }),
        check: handle((req: any) => {
            const kind = kindOf(req.getUrn());
            const news = decode(req.getNews());
            const inputs = { ...kind.defaults, ...Object.fromEntries(Object.entries(news).filter(([, v]) => v !== null)) };
            return new providerProto.CheckResponse().setInputs(encode(inputs, kind.secrets));
        }),
        diff: handle((req: any) => {
            const kind = kindOf(req.getUrn());
            // old inputs when the engine sends them; else old outputs, compared on the inputs only
            const oldInputs = req.getOldInputs();
            const news = decode(req.getNews());
            const olds = oldInputs ? decode(oldInputs) : pick(decode(req.getOlds()), Object.keys(news));
            const changed = changedKeys(olds, news);
            const replaces = kind.replaceOn === "all" ? changed : changed.filter((k) => (kind.replaceOn as string[]).includes(k));
            return new providerProto.DiffResponse()
                .setChanges(changed.length ? providerProto.DiffResponse.DiffChanges.DIFF_SOME : providerProto.DiffResponse.DiffChanges.DIFF_NONE)
                .setDiffsList(changed)
                .setReplacesList(replaces);
        }),
        create: handle(async (req: any) => {
            const kind = kindOf(req.getUrn());
            const inputs = decode(req.getProperties());
            if (req.getPreview() || hasUnknown(inputs)) return new providerProto.CreateResponse().setId("").setProperties(encode(inputs, kind.secrets));
            const { id, outs } = await kind.create(inputs);
            return new providerProto.CreateResponse().setId(id).setProperties(encode(outs, kind.secrets));
        }),
        read: handle(async (req: any) => {
            const kind = kindOf(req.getUrn());
            const props = decode(req.getProperties());
            const inputs = decode(req.getInputs());
            const now = await kind.read(req.getId(), { ...inputs, ...props });
            const res = new providerProto.ReadResponse();
            if (!now) return res.setId("");
            return res.setId(req.getId()).setProperties(encode(now, kind.secrets)).setInputs(encode({ ...inputs, ...pick(now, Object.keys(inputs)) }, kind.secrets));
        }),
        update: handle(async (req: any) => {
            const kind = kindOf(req.getUrn());
            const news = decode(req.getNews());
            if (req.getPreview()) return new providerProto.UpdateResponse().setProperties(encode(news, kind.secrets));
            const outs = await kind.update!(req.getId(), decode(req.getOlds()), news);
            return new providerProto.UpdateResponse().setProperties(encode(outs, kind.secrets));
        }),
        delete: handle(async (req: any) => {
            await kindOf(req.getUrn()).delete(req.getId(), decode(req.getProperties()));
            return new emptyProto.Empty();
        }),
        cancel: handle(() => new emptyProto.Empty()),
    };
    const server = new grpc.Server();
    server.addService(providerRpc.ResourceProviderService, new Proxy(implementation, {
        // every other method of the protocol: the engine treats UNIMPLEMENTED as "not supported"
        get: (target: any, method: string) => target[method] ?? ((_call: unknown, callback: (err: any) => void) => callback({ code: grpc.status.UNIMPLEMENTED, details: method })),
    }));
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
        if (err) throw err;
        process.stdout.write(`${port}\n`);
    });
}

const pick = (props: Props, keys: string[]) => Object.fromEntries(keys.filter((k) => k in props).map((k) => [k, props[k]]));

const pkg = process.argv[2];
const kindsByPackage: Record<string, Record<string, ResourceKind>> = { mysql: mysqlKinds, random: randomKinds };
if (!kindsByPackage[pkg]) {
    console.error(`usage: standinProviders mysql|random ENGINE_ADDRESS`);
    process.exit(2);
}
serve(pkg, kindsByPackage[pkg]);
