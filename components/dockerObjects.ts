import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { contentHash } from "./naming";

/**
 * Docker secrets and configs are immutable: the engine refuses to change their data. Naming each
 * by a hash of its content makes a changed value a new object: Pulumi creates it, moves the
 * service to it (a rolling update), then deletes the old one. A fixed name would collide with
 * the old object during that create-before-delete replacement.
 */

/** Docker refuses secret and config names longer than this. */
export const DOCKER_OBJECT_NAME_MAX_LENGTH = 64;

/**
 * `<baseName>-<hash of content>`, the name of an immutable Docker secret or config. A base name
 * that would make it longer than Docker accepts (a long user id) is cut, and a hash of the whole
 * base name keeps the names of different owners apart.
 */
export function dockerObjectName(baseName: string, content: string): string {
    const hash = contentHash(content);
    const name = `${baseName}-${hash}`;
    if (name.length <= DOCKER_OBJECT_NAME_MAX_LENGTH) return name;
    const baseHash = contentHash(baseName).slice(0, 8);
    return `${baseName.slice(0, DOCKER_OBJECT_NAME_MAX_LENGTH - hash.length - baseHash.length - 2)}-${baseHash}-${hash}`;
}

/** A Docker secret holding `value`, named `<baseName>-<hash of value>`; its data stays a Pulumi secret. */
export function hashedSecret(
    resourceName: string,
    baseName: string,
    value: pulumi.Input<string>,
    opts: pulumi.CustomResourceOptions,
): docker.Secret {
    const secretValue = pulumi.secret(value);
    return new docker.Secret(
        resourceName,
        {
            // The hash is of a generated password (or an operator's secret); 48 bits of a SHA-256
            // tell nothing usable about it, and an unsecret name keeps `pulumi preview` readable.
            name: pulumi.unsecret(secretValue.apply((v) => dockerObjectName(baseName, v))),
            data: secretValue.apply((v) => Buffer.from(v, "utf8").toString("base64")),
            labels: [{ label: "pug.managed-by", value: "pug" }],
        },
        opts,
    );
}

/** A Docker config holding `content` (not secret), named `<baseName>-<hash of content>`. */
export function hashedConfig(
    resourceName: string,
    baseName: string,
    content: pulumi.Input<string>,
    opts: pulumi.CustomResourceOptions,
): docker.ServiceConfig {
    const text = pulumi.output(content);
    return new docker.ServiceConfig(
        resourceName,
        {
            name: text.apply((v) => dockerObjectName(baseName, v)),
            data: text.apply((v) => Buffer.from(v, "utf8").toString("base64")),
        },
        opts,
    );
}

/** Where a secret is mounted in a task: Docker's own location, readable only by `uid`. */
export function secretMount(secret: docker.Secret, fileName: string, uid = "0"): docker.types.input.ServiceTaskSpecContainerSpecSecret {
    return { secretId: secret.id, secretName: secret.name, fileName, fileUid: uid, fileGid: uid, fileMode: 0o400 };
}

/**
 * Where a config is mounted in a task, at `fileName`, with `mode`; owned by `owner` when given
 * (else by the image's default user).
 */
export function configMount(
    config: docker.ServiceConfig,
    fileName: string,
    mode: number,
    owner?: { uid: string; gid: string },
): docker.types.input.ServiceTaskSpecContainerSpecConfig {
    return { configId: config.id, configName: config.name, fileName, ...(owner ? { fileUid: owner.uid, fileGid: owner.gid } : {}), fileMode: mode };
}

/** The path at which `secretMount(…, fileName)` appears inside the container. */
export function secretPath(fileName: string): string {
    return `/run/secrets/${fileName}`;
}

/**
 * A task's attachments to overlay networks, by network id. The docker provider reads back only a
 * network's `id`: `name` (deprecated, and ForceNew) never matches what it reads, so a service
 * attached by `name` would be replaced on every `pulumi up`.
 */
export function networkAttachments(networkIds: pulumi.Input<pulumi.Input<string>[]>): pulumi.Output<docker.types.input.ServiceTaskSpecNetworksAdvanced[]> {
    return pulumi.output(networkIds).apply((ids) => ids.map((id) => ({ id })));
}
