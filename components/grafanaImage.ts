import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as path from "path";
import { z } from "zod";
import { contentHash } from "./specs/naming";

/**
 * The Grafana image a user's service runs: the official image at a version, or, with plugins, an
 * image built from images/grafana/Dockerfile (the official image plus the plugins, nothing else)
 * and pushed to the platform's registry. A built image is referenced by digest, so a rebuild is
 * an explicit change of every service that runs it in `pulumi preview`, never a silent re-pull
 * of a moved tag.
 */

/** The official image every PUG Grafana is, or is built from. */
export const OFFICIAL_GRAFANA_REPOSITORY = "grafana/grafana";

/** The build arguments images/grafana/Dockerfile declares (a test checks they match). */
export const GRAFANA_BUILD_ARGS = { version: "GRAFANA_VERSION", plugins: "GRAFANA_PLUGINS" } as const;

/**
 * images/grafana of this package, relative to the directory `pulumi` runs in. Relative, because
 * docker.Image records the context path in the state: an absolute path would show a change on
 * every checkout in another directory (each CI runner's).
 */
export const GRAFANA_BUILD_CONTEXT = path.relative(process.cwd(), path.resolve(__dirname, "..", "images", "grafana")) || ".";

/** A tag of the official image: "12.0.2", "12.0.2-ubuntu". @internal */
export const grafanaVersionSchema = z
    // YAML reads 12.10 as the number 12.1: a version must be written as a string
    .string({ error: 'must be a tag of grafana/grafana as a string (quote it in YAML: "12.10")' })
    .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'must be a tag of the official image grafana/grafana, e.g. "12.0.2"');

/** A plugin to bake in: `<plugin id>` or `<plugin id>@<version>`, as `grafana cli plugins install` takes them. @internal */
export const pluginSchema = z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*(@[A-Za-z0-9][A-Za-z0-9.+_-]*)?$/, 'must be a plugin id, optionally @version, e.g. "grafana-clock-panel@2.1.8"');

/**
 * The registry images are pushed to, e.g. `pug:registry`. The server is the repository's first
 * component, which must be a host (Docker would otherwise push to Docker Hub).
 * @internal
 */
export const registrySchema = z
    .strictObject({
        repository: z
            .string()
            .regex(
                /^(localhost|[a-z0-9-]+(\.[a-z0-9-]+)+|[a-z0-9.-]+:\d{1,5})(:\d{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)+$/,
                "must be a fully qualified repository: a registry host, then the path, e.g. registry.example.com/pug/grafana",
            ),
        username: z.string().min(1).optional(),
        password: z.string().min(1).optional(),
    })
    .superRefine((v, ctx) => {
        if ((v.username === undefined) !== (v.password === undefined)) {
            ctx.addIssue({
                code: "custom",
                path: [v.username === undefined ? "username" : "password"],
                message: "username and password go together (or leave both out to use the build host's docker login)",
            });
        }
    });

/** Where images are pushed and pulled; the password stays a Pulumi secret. */
export interface RegistrySettings {
    /** Fully qualified repository, e.g. registry.example.com/pug/grafana. */
    repository: string;
    /** @default none: the docker login of the host that builds (and of the Swarm nodes that pull) */
    username?: string;
    /** @default none */
    password?: pulumi.Input<string>;
}

/** The registry host of a fully qualified repository. */
export function registryServer(repository: string): string {
    return repository.split("/")[0];
}

/** The official image at a version. */
export function officialGrafanaImage(version: string): string {
    return `${OFFICIAL_GRAFANA_REPOSITORY}:${version}`;
}

/** Plain data an image build is declared from. */
export interface GrafanaImageBuildSpec {
    version: string;
    plugins: string[];
    repository: string;
    context: string;
    platform?: string;
}

/**
 * What docker.Image is given for a build: the Dockerfile's arguments carry the version and the
 * plugin list; the tag names the version and a hash of the plugin list, so one tag always means
 * one set of inputs (services still run the digest the push returned).
 */
export function grafanaImageBuild(spec: GrafanaImageBuildSpec): { imageName: string; build: docker.types.input.DockerBuild } {
    const pluginList = spec.plugins.join(" ");
    return {
        imageName: `${spec.repository}:${spec.version}-${contentHash(pluginList)}`,
        build: {
            context: spec.context,
            // relative to where `pulumi` runs, like the context
            dockerfile: path.join(spec.context, "Dockerfile"),
            args: { [GRAFANA_BUILD_ARGS.version]: spec.version, [GRAFANA_BUILD_ARGS.plugins]: pluginList },
            ...(spec.platform ? { platform: spec.platform } : {}),
        },
    };
}

export interface GrafanaImageArgs {
    /** A tag of the official image grafana/grafana, e.g. "12.0.2". */
    version: string;
    /** Plugins baked into the image: `<id>` or `<id>@<version>`; they need `registry`. @default none */
    plugins?: string[];
    /**
     * The registry the image is pushed to and the Swarm pulls from.
     * @default none: the official image at `version` is used as is and nothing is built
     */
    registry?: RegistrySettings;
    /** The build context holding the Dockerfile. @default images/grafana of this package */
    context?: string;
    /** Platform to build for, e.g. "linux/arm64". @default the platform of the engine that builds */
    platform?: string;
}

/** Why these arguments cannot make an image, or undefined. */
export function grafanaImageProblem(args: GrafanaImageArgs): string | undefined {
    if (!grafanaVersionSchema.safeParse(args.version).success) return `version "${args.version}" is not a tag of ${OFFICIAL_GRAFANA_REPOSITORY}`;
    const badPlugin = (args.plugins ?? []).find((p) => !pluginSchema.safeParse(p).success);
    if (badPlugin !== undefined) return `plugin "${badPlugin}" is not a plugin id, optionally @version`;
    if ((args.plugins ?? []).length && !args.registry) {
        return "plugins are baked into a built image, which needs a registry to push to (set registry, or drop the plugins)";
    }
    if (args.registry && !registrySchema.safeParse({ repository: args.registry.repository }).success) {
        return `registry.repository "${args.registry.repository}" is not a fully qualified repository (registry host, then path)`;
    }
    return undefined;
}

/**
 * A Grafana image: without a registry, a reference to the official image; with one, a build of
 * images/grafana pushed there, referenced by digest. The build runs on the engine of the docker
 * provider the component is given (the Swarm manager's, from PugPlatform).
 */
export class GrafanaImage extends pulumi.ComponentResource {
    /** What a service runs: `<repository>@sha256:…` when built, else `grafana/grafana:<version>`. */
    public readonly ref: pulumi.Output<string>;
    /** The build, when there is a registry. */
    public readonly image?: docker.Image;

    constructor(name: string, args: GrafanaImageArgs, opts: pulumi.ComponentResourceOptions = {}) {
        const problem = grafanaImageProblem(args);
        if (problem) throw new Error(`GrafanaImage ${name}: ${problem}`);
        super("pug:grafana:GrafanaImage", name, {}, opts);

        if (!args.registry) {
            this.ref = pulumi.output(officialGrafanaImage(args.version));
        } else {
            const { imageName, build } = grafanaImageBuild({
                version: args.version,
                plugins: args.plugins ?? [],
                repository: args.registry.repository,
                context: args.context ?? GRAFANA_BUILD_CONTEXT,
                platform: args.platform,
            });
            const { username, password } = args.registry;
            this.image = new docker.Image(
                name,
                {
                    imageName,
                    build,
                    registry: {
                        server: registryServer(args.registry.repository),
                        ...(username !== undefined && password !== undefined ? { username, password: pulumi.secret(password) } : {}),
                    },
                },
                { parent: this },
            );
            this.ref = this.image.repoDigest;
        }
        this.registerOutputs({ ref: this.ref });
    }
}
