import { createHmac } from "crypto";
import * as mysql from "@pulumi/mysql";
import * as pulumi from "@pulumi/pulumi";
import { tenantDatabaseName, tenantDatabaseUser } from "./specs/naming";
import { safePassword } from "./specs/passwords";

/**
 * The privileges Grafana's migrations and normal operation need on its own database. Listed
 * explicitly: ALL expands differently across MySQL versions (endless diffs) and grants more than
 * Grafana uses. Never a global grant.
 */
export const GRAFANA_DB_PRIVILEGES = [
    "SELECT", "INSERT", "UPDATE", "DELETE",
    "CREATE", "DROP", "ALTER", "INDEX", "REFERENCES",
    "CREATE TEMPORARY TABLES", "LOCK TABLES",
] as const;

export interface TenantDatabaseArgs {
    /** The user's id: the database and DB user are `grafana_<id>` (dashes become underscores). */
    userId: string;
    /** The host pattern the DB user may connect from. @default "%" (the Swarm's overlay addresses are not fixed) */
    allowedHost?: string;
    /**
     * Adopt a database that already exists in MySQL (a user removed earlier and added back): the
     * database is imported into the stack instead of created, so re-adding does not fail.
     * @default false
     */
    adoptExistingDatabase?: boolean;
    /**
     * A secret shared by the platform, from which the secrets bound to the stored data are derived
     * per user (HMAC-SHA256 of the purpose and the user id): Grafana's `secret_key`, which encrypts
     * the datasource secrets Grafana stores, and the admin password Grafana stores (hashed) at its
     * first start. Secrets generated per user would leave the stack with the user, and a user added
     * back would find their datasource secrets unreadable and their admin password unknown; derived
     * ones come back with the user.
     * @default random secrets per user, lost when the user is removed
     */
    secretSeed?: pulumi.Input<string>;
}

/**
 * A user's store: the MySQL database Grafana keeps everything in, the DB user and its grant on
 * that database only, and the secrets bound to the stored data (the DB password, Grafana's
 * secret_key that encrypts datasource secrets, the admin password set at first start).
 *
 * The database is retained when the resource is deleted: removing or deactivating a user never
 * drops their data (purging is a deliberate act, see README).
 */
export class TenantDatabase extends pulumi.ComponentResource {
    public readonly databaseName: string;
    public readonly username: string;
    public readonly database: mysql.Database;
    public readonly user: mysql.User;
    public readonly grant: mysql.Grant;
    /** The DB user's password (secret). */
    public readonly password: pulumi.Output<string>;
    /** Grafana's `[security] secret_key` (secret); identical across the user's replicas. */
    public readonly secretKey: pulumi.Output<string>;
    /** Grafana's initial admin password (secret). */
    public readonly adminPassword: pulumi.Output<string>;

    constructor(name: string, args: TenantDatabaseArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("pug:mysql:TenantDatabase", name, {}, opts);
        const child = { parent: this };
        this.databaseName = tenantDatabaseName(args.userId);
        this.username = tenantDatabaseUser(args.userId);
        const host = args.allowedHost ?? "%";

        this.database = new mysql.Database(
            `${name}-db`,
            { name: this.databaseName, defaultCharacterSet: "utf8mb4", defaultCollation: "utf8mb4_unicode_ci" },
            { ...child, ...tenantDatabaseOptions(this.databaseName, args.adoptExistingDatabase ?? false) },
        );
        const dbPassword = safePassword(`${name}-db-password`, 32, child);
        this.user = new mysql.User(`${name}-user`, { user: this.username, host, plaintextPassword: dbPassword.result }, child);
        this.grant = new mysql.Grant(
            `${name}-grant`,
            {
                user: this.user.user,
                host: this.user.host,
                database: this.database.name,
                table: "*",
                privileges: [...GRAFANA_DB_PRIVILEGES],
            },
            child,
        );
        this.password = pulumi.secret(dbPassword.result);
        const storedSecret = (purpose: StoredSecretPurpose, length: number) =>
            pulumi.secret(
                args.secretSeed === undefined
                    ? safePassword(`${name}-${purpose}`, length, child).result
                    : pulumi.output(args.secretSeed).apply((seed) => derivedUserSecret(seed, purpose, args.userId)),
            );
        this.secretKey = storedSecret("secret-key", 40);
        this.adminPassword = storedSecret("admin-password", 24);

        this.registerOutputs({ databaseName: this.databaseName, username: this.username });
    }
}

/** The secrets whose value the user's stored data depends on. */
export const STORED_SECRET_PURPOSES = ["secret-key", "admin-password"] as const;
export type StoredSecretPurpose = (typeof STORED_SECRET_PURPOSES)[number];

/** One of a user's stored-data secrets, from the platform's seed: the same after a removal and a return. */
export function derivedUserSecret(seed: string, purpose: StoredSecretPurpose, userId: string): string {
    // base64url: no character that needs quoting in grafana.ini or starts Grafana's `$__` expansion.
    return createHmac("sha256", seed).update(`grafana-${purpose}:${userId}`).digest("base64url");
}

/** The database's resource options: it outlives the stack's interest in it. */
export function tenantDatabaseOptions(databaseName: string, adopt: boolean): pulumi.CustomResourceOptions {
    return { retainOnDelete: true, ...(adopt ? { import: databaseName } : {}) };
}
