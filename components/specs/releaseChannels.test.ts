import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_GRAFANA_IMAGE } from "../grafanaTenant";
import { channelRegistryProblems, channelsSchema, imageSettingsIssues, planRollout, userChannelProblems, type ImageSettings, type ReleaseChannel } from "./releaseChannels";
import { grafanaDefaultsSchema } from "../pugPlatform";
import { parseUserList } from "../users/users";
import { parseOrThrow } from "../validation";

const channel = (version: string, wave = 1): ReleaseChannel => ({ version, wave });
const settings: ImageSettings = {
    channels: { canary: channel("12.1.0", 0), stable: channel("12.0.2") },
    defaultChannel: "stable",
};

describe("channel resolution", () => {
    const plan = planRollout(
        [{ id: "alice", channel: "canary" }, { id: "bob" }, { id: "carol", channel: "stable" }, { id: "dave", image: "grafana/grafana:11.6.0" }],
        settings,
    );

    it("puts a user on the channel it names, or on the default channel", () => {
        expect(plan.sources.alice).toEqual({ kind: "channel", channel: "canary", wave: 0 });
        expect(plan.sources.bob).toEqual({ kind: "channel", channel: "stable", wave: 1 });
        expect(plan.sources.carol).toEqual({ kind: "channel", channel: "stable", wave: 1 });
    });

    it("runs a pinned image whatever the default channel", () => {
        expect(plan.sources.dave).toEqual({ kind: "pinned", image: "grafana/grafana:11.6.0" });
        expect(plan.waitsFor.dave).toEqual([]);
    });

    it("uses the only channel when there is one and no default is named", () => {
        const one = planRollout([{ id: "alice" }], { channels: { stable: channel("12.0.2") } });
        expect(one.sources.alice).toMatchObject({ kind: "channel", channel: "stable" });
    });

    it("keeps a stack without channels on pug:grafana.image, or the platform default", () => {
        expect(planRollout([{ id: "alice" }], { image: "grafana/grafana:11.6.0" }).sources.alice).toEqual({ kind: "default", image: "grafana/grafana:11.6.0" });
        expect(planRollout([{ id: "alice" }], {}).sources.alice).toEqual({ kind: "default", image: DEFAULT_GRAFANA_IMAGE });
        expect(planRollout([{ id: "alice" }, { id: "bob" }], {}).waitsFor).toEqual({ alice: [], bob: [] });
    });
});

describe("rollout order", () => {
    it("makes every stable user wait for every canary user, and canary users wait for nobody", () => {
        const plan = planRollout([{ id: "bob" }, { id: "alice", channel: "canary" }, { id: "carol" }, { id: "erin", channel: "canary" }], settings);
        expect(plan.waitsFor).toEqual({ alice: [], erin: [], bob: ["alice", "erin"], carol: ["alice", "erin"] });
        expect(plan.order.indexOf("bob")).toBeGreaterThan(plan.order.indexOf("erin"));
    });

    it("lets the stable users go when the canary channel has no user", () => {
        expect(planRollout([{ id: "bob" }], settings).waitsFor.bob).toEqual([]);
    });

    it("chains waves: each waits for the nearest earlier wave with users only", () => {
        const waves: ImageSettings = { channels: { a: channel("1", 0), b: channel("2", 3), c: channel("3", 7) }, defaultChannel: "c" };
        const plan = planRollout([{ id: "u1", channel: "a" }, { id: "u2", channel: "b" }, { id: "u3" }], waves);
        expect(plan.waitsFor).toEqual({ u1: [], u2: ["u1"], u3: ["u2"] });
    });

    it("orders any users so that everyone comes after exactly the users of the previous wave", () => {
        const names = ["w0", "w1", "w2", "w5"];
        const waveSettings: ImageSettings = { channels: { w0: channel("1", 0), w1: channel("1", 1), w2: channel("1", 2), w5: channel("1", 5) }, defaultChannel: "w1" };
        const user = fc.record({ pin: fc.boolean(), channel: fc.option(fc.constantFrom(...names), { nil: undefined }) });
        fc.assert(
            fc.property(fc.array(user, { maxLength: 12 }), (drawn) => {
                const users = drawn.map((u, i) => (u.pin ? { id: `u${i}`, image: "x:1" } : { id: `u${i}`, channel: u.channel }));
                const plan = planRollout(users, waveSettings);
                const wave = (id: string) => (plan.sources[id].kind === "channel" ? (plan.sources[id] as { wave: number }).wave : undefined);
                expect([...plan.order].sort()).toEqual(users.map((u) => u.id).sort());
                const present = [...new Set(users.map((u) => wave(u.id)).filter((w) => w !== undefined))].sort((a, b) => a! - b!);
                for (const u of users) {
                    const w = wave(u.id);
                    const previous = w === undefined ? undefined : present[present.indexOf(w) - 1];
                    const expected = previous === undefined ? [] : users.filter((v) => wave(v.id) === previous).map((v) => v.id);
                    expect(plan.waitsFor[u.id]).toEqual(expected);
                    for (const earlier of plan.waitsFor[u.id]) expect(plan.order.indexOf(earlier)).toBeLessThan(plan.order.indexOf(u.id));
                }
            }),
            { numRuns: 200 },
        );
    });
});

describe("validation", () => {
    const grafana = (value: unknown) => () => parseOrThrow(grafanaDefaultsSchema, "pug:grafana", value);

    it.each([
        [{ channels: { canary: { plugins: ["grafana-clock-panel"] } } }, "pug:grafana: channels.canary.version: a channel needs a version"],
        [{ channels: { canary: { version: "12.1.0", image: "x/y:1" } } }, "pug:grafana: channels.canary.image: conflicts with version"],
        [{ channels: { canary: { image: "x/y:1", plugins: ["a"] } } }, "pug:grafana: channels.canary.plugins: plugins are baked into images built from a version"],
        [{ channels: { canary: { version: "12.1.0", wave: -1 } } }, "pug:grafana: channels.canary.wave: must be a whole number >= 0"],
        [{ channels: { canary: { version: "12.1.0", plugins: ["clock panel"] } } }, "pug:grafana: channels.canary.plugins.0: must be a plugin id"],
        [{ channels: { canary: { version: 12.1 } } }, 'pug:grafana: channels.canary.version: must be a tag of grafana/grafana as a string (quote it in YAML: "12.10")'],
        [{ channels: { Canary: { version: "12.1.0" } } }, "pug:grafana: channels.Canary: a channel name is a lowercase letter"],
        [{ channels: { canary: { version: "12.1.0", verison: "x" } } }, 'pug:grafana: channels.canary: Unrecognized key: "verison"'],
        [{ channels: { a: { version: "1" }, b: { version: "2" } } }, "pug:grafana: defaultChannel: is required when several channels are declared (one of a, b)"],
        [{ channels: { a: { version: "1" } }, defaultChannel: "b" }, 'pug:grafana: defaultChannel: "b" is not one of the channels (a)'],
        [{ image: "grafana/grafana:12.0.2", channels: { a: { version: "1" } } }, "pug:grafana: image: conflicts with channels"],
        [{ defaultChannel: "stable" }, "pug:grafana: defaultChannel: names a channel, but pug:grafana declares no channels"],
    ])("refuses %o naming key and field", (value, message) => {
        expect(grafana(value)).toThrow(message);
    });

    it("accepts channels with versions, plugins, waves and ready-made images", () => {
        const parsed = grafana({ channels: { canary: { version: "12.1.0", plugins: ["grafana-clock-panel@2.1.8"], wave: 0 }, legacy: { image: "registry.example.com/g@sha256:ab" } }, defaultChannel: "canary" })();
        expect(parsed.channels).toEqual({ canary: { version: "12.1.0", plugins: ["grafana-clock-panel@2.1.8"], wave: 0 }, legacy: { image: "registry.example.com/g@sha256:ab", wave: 1 } });
        expect(imageSettingsIssues(parsed)).toEqual([]);
        expect(channelsSchema.safeParse({}).success).toBe(true);
    });

    it("refuses a channel with plugins when there is no registry to push its image to", () => {
        const channels = { canary: { version: "12.1.0", plugins: ["grafana-clock-panel"], wave: 0 }, stable: channel("12.0.2") };
        expect(channelRegistryProblems(channels, false)).toEqual(["channels.canary.plugins: baking plugins into an image needs a registry to push it to (pug:registry), or drop the plugins"]);
        expect(channelRegistryProblems(channels, true)).toEqual([]);
    });

    it("refuses a user naming a channel that does not exist", () => {
        expect(userChannelProblems([{ id: "bob", channel: "beta" }], settings)).toEqual(['user "bob": channel: "beta" is not one of pug:grafana\'s channels (canary, stable)']);
        expect(userChannelProblems([{ id: "bob", channel: "beta" }], {})).toEqual(['user "bob": channel: "beta" names a channel, but pug:grafana declares no channels']);
    });

    it("refuses a user record that both pins an image and picks a channel, naming the source entry", () => {
        expect(() => parseUserList("users.yaml", [{ id: "alice" }, { id: "bob", channel: "canary", image: "grafana/grafana:12.1.0" }])).toThrow(
            'users.yaml: entry 2 (id "bob"): image conflicts with channel "canary": pin an image or pick a channel, not both',
        );
    });
});
