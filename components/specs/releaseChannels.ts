import { z } from "zod";
import { grafanaVersionSchema, pluginSchema } from "../grafanaImage";
import { DEFAULT_GRAFANA_IMAGE } from "../grafanaTenant";

/**
 * Release channels: named Grafana images (e.g. `canary`, `stable`) users are put on. Changing a
 * channel's version or plugins moves every user on it; the channels' `wave`s order that move
 * within one `pulumi up`: a user's service is updated only after every service of the previous
 * wave has converged, so a canary that fails its health checks stops the run before the next
 * wave is touched.
 */

/** A channel's name: a lowercase letter, then lowercase letters, digits or dashes (at most 30). */
export const CHANNEL_NAME_PATTERN = /^[a-z][a-z0-9-]{0,29}$/;
const CHANNEL_NAME_MESSAGE = "a channel name is a lowercase letter, then lowercase letters, digits or dashes, at most 30 characters";

/** @internal */
export const channelNameSchema = z.string().regex(CHANNEL_NAME_PATTERN, CHANNEL_NAME_MESSAGE);

/**
 * One channel: either `version` (with optional `plugins`), resolved to the official image or to
 * a build of images/grafana, or `image`, a ready-made image reference used as is.
 * @internal
 */
export const channelSchema = z
    .strictObject({
        /** A tag of grafana/grafana. */
        version: grafanaVersionSchema.optional(),
        /** Plugins baked into the channel's image: `<id>` or `<id>@<version>`. */
        plugins: z.array(pluginSchema).optional(),
        /** A ready-made image (e.g. built by another pipeline), instead of version and plugins. */
        image: z.string().min(1).optional(),
        /** Lower waves are rolled out first; channels in one wave roll out together. */
        wave: z.number().int("must be a whole number >= 0").min(0, "must be a whole number >= 0").default(1),
    })
    .superRefine((v, ctx) => {
        if (v.version === undefined && v.image === undefined) {
            ctx.addIssue({ code: "custom", path: ["version"], message: "a channel needs a version (or a ready-made image)" });
        }
        if (v.version !== undefined && v.image !== undefined) {
            ctx.addIssue({ code: "custom", path: ["image"], message: "conflicts with version: a channel is either a version (built with its plugins) or a ready-made image" });
        }
        if (v.image !== undefined && v.plugins !== undefined) {
            ctx.addIssue({ code: "custom", path: ["plugins"], message: "plugins are baked into images built from a version; a ready-made image cannot take them" });
        }
    });

// Names are checked by a refinement rather than a key schema, so the message names the channel.
/** @internal */
export const channelsSchema = z.record(z.string(), channelSchema).superRefine((channels, ctx) => {
    for (const name of Object.keys(channels)) {
        if (!CHANNEL_NAME_PATTERN.test(name)) ctx.addIssue({ code: "custom", path: [name], message: CHANNEL_NAME_MESSAGE });
    }
});

/**
 * A release channel, validated by channelSchema (written out, not inferred, so the declarations
 * name no zod type; test/publicApi.test.ts checks the two agree).
 */
export interface ReleaseChannel {
    /** A tag of grafana/grafana. */
    version?: string;
    /** Plugins baked into the channel's image: `<id>` or `<id>@<version>`. */
    plugins?: string[];
    /** A ready-made image (e.g. built by another pipeline), instead of version and plugins. */
    image?: string;
    /** Lower waves are rolled out first; channels in one wave roll out together. */
    wave: number;
}

/** The part of `pug:grafana` that decides images. */
export interface ImageSettings {
    /** The image of every user when no channels are declared. @default DEFAULT_GRAFANA_IMAGE */
    image?: string;
    channels?: Record<string, ReleaseChannel>;
    /** The channel of users who name none. @default the only channel, when there is one */
    defaultChannel?: string;
}

/** Where a user's image comes from. */
export type ImageSource =
    | { kind: "pinned"; image: string }
    | { kind: "channel"; channel: string; wave: number }
    | { kind: "default"; image: string };

/** Problems of the image settings, each with the field it is about (relative to `pug:grafana`). */
export function imageSettingsIssues(settings: ImageSettings): Array<{ path: string[]; message: string }> {
    const issues: Array<{ path: string[]; message: string }> = [];
    const names = Object.keys(settings.channels ?? {});
    const list = names.join(", ");
    if (settings.channels === undefined) {
        if (settings.defaultChannel !== undefined) issues.push({ path: ["defaultChannel"], message: "names a channel, but pug:grafana declares no channels" });
        return issues;
    }
    if (names.length === 0) issues.push({ path: ["channels"], message: "declares no channel (leave channels out to run one image for everyone)" });
    if (settings.image !== undefined) {
        issues.push({
            path: ["image"],
            message: "conflicts with channels: with channels every user runs a channel's image or pins its own; put the version in a channel",
        });
    }
    if (settings.defaultChannel !== undefined && !names.includes(settings.defaultChannel)) {
        issues.push({ path: ["defaultChannel"], message: `"${settings.defaultChannel}" is not one of the channels (${list})` });
    }
    if (settings.defaultChannel === undefined && names.length > 1) {
        issues.push({ path: ["defaultChannel"], message: `is required when several channels are declared (one of ${list})` });
    }
    return issues;
}

/** Channels that cannot be served with (or without) a registry, as `channels.<name>.plugins: …`. */
export function channelRegistryProblems(channels: Record<string, ReleaseChannel> | undefined, hasRegistry: boolean): string[] {
    if (hasRegistry) return [];
    return Object.entries(channels ?? {})
        .filter(([, c]) => (c.plugins ?? []).length > 0)
        .map(([name]) => `channels.${name}.plugins: baking plugins into an image needs a registry to push it to (pug:registry), or drop the plugins`);
}

/** The channel of a user who names none. */
export function defaultChannelOf(settings: ImageSettings): string | undefined {
    const names = Object.keys(settings.channels ?? {});
    return settings.defaultChannel ?? (names.length === 1 ? names[0] : undefined);
}

/** A user record as far as its image is concerned. */
export interface ImageChoice {
    id: string;
    image?: string;
    channel?: string;
}

/** Users naming a channel that does not exist, one line each. */
export function userChannelProblems(users: ImageChoice[], settings: ImageSettings): string[] {
    const names = Object.keys(settings.channels ?? {});
    return users
        .filter((u) => u.channel !== undefined && !names.includes(u.channel))
        .map((u) =>
            names.length
                ? `user "${u.id}": channel: "${u.channel}" is not one of pug:grafana's channels (${names.join(", ")})`
                : `user "${u.id}": channel: "${u.channel}" names a channel, but pug:grafana declares no channels`,
        );
}

/** Where a user's image comes from: its pin, else its channel (or the default one), else the stack's image. */
export function imageSourceOf(user: ImageChoice, settings: ImageSettings): ImageSource {
    if (user.image !== undefined) return { kind: "pinned", image: user.image };
    const channel = user.channel ?? defaultChannelOf(settings);
    if (channel !== undefined && settings.channels?.[channel]) return { kind: "channel", channel, wave: settings.channels[channel].wave };
    return { kind: "default", image: settings.image ?? DEFAULT_GRAFANA_IMAGE };
}

/** How one `pulumi up` moves the users' services. */
export interface RolloutPlan {
    /** Each user's image source, by user id. */
    sources: Record<string, ImageSource>;
    /**
     * For each user, the users whose services are updated before its own: every user of the
     * previous wave that has users. Pinned users and users of a stack without channels wait for
     * nobody, and nobody waits for them: their image changes only with their own record.
     */
    waitsFor: Record<string, string[]>;
    /** The user ids in an order where everyone comes after those they wait for. */
    order: string[];
}

export function planRollout(users: ImageChoice[], settings: ImageSettings): RolloutPlan {
    const sources: Record<string, ImageSource> = {};
    for (const user of users) sources[user.id] = imageSourceOf(user, settings);
    const waveOf = (id: string) => {
        const source = sources[id];
        return source.kind === "channel" ? source.wave : undefined;
    };
    const waves = [...new Set(users.map((u) => waveOf(u.id)).filter((w): w is number => w !== undefined))].sort((a, b) => a - b);
    const usersIn = (wave: number) => users.filter((u) => waveOf(u.id) === wave).map((u) => u.id);
    const waitsFor: Record<string, string[]> = {};
    for (const user of users) {
        const wave = waveOf(user.id);
        const previous = wave === undefined ? undefined : waves[waves.indexOf(wave) - 1];
        waitsFor[user.id] = previous === undefined ? [] : usersIn(previous);
    }
    const order = [...users.filter((u) => waveOf(u.id) === undefined).map((u) => u.id), ...waves.flatMap(usersIn)];
    return { sources, waitsFor, order };
}
