import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../components/validation";
import { readUserLifecycleSettings } from "./userLifecycleConfig";

function read(values: Record<string, string>) {
    pulumi.runtime.setAllConfig(values);
    return readUserLifecycleSettings(new pulumi.Config("pug"));
}

describe("readUserLifecycleSettings", () => {
    it("reads nothing when the keys are absent", () => {
        expect(read({})).toEqual({ allowRemovals: undefined, restoreUsers: [] });
    });

    it.each([
        ["acme", { ids: ["acme"] }],
        ["acme, globex", { ids: ["acme", "globex"] }],
        ['["acme","globex"]', { ids: ["acme", "globex"] }],
        ["7", { ids: [], count: 7 }],
    ])("reads pug:allowRemovals=%s", (raw, expected) => {
        expect(read({ "pug:allowRemovals": raw }).allowRemovals).toEqual(expected);
    });

    it("reads pug:restoreUsers as ids", () => {
        expect(read({ "pug:restoreUsers": "acme,globex" }).restoreUsers).toEqual(["acme", "globex"]);
        expect(read({ "pug:restoreUsers": '["acme"]' }).restoreUsers).toEqual(["acme"]);
    });

    it("reports the problems of both keys at once", () => {
        expect(() => read({ "pug:allowRemovals": "acme globex", "pug:restoreUsers": "3" })).toThrow(
            new InvalidInputError([
                'pug:allowRemovals: "acme globex" is not a user id (give ids separated by commas, or a number of removals)',
                'pug:restoreUsers: "3" is not a user id (give ids separated by commas)',
            ]),
        );
    });

    it.each([
        ["0", "pug:allowRemovals: must name users or be a number of removals >= 1"],
        [",", "pug:allowRemovals: is empty (give ids separated by commas, or a number of removals, or remove the key)"],
        ["[acme", "pug:allowRemovals: is neither a list of ids nor comma-separated ids"],
        ["[1]", 'pug:allowRemovals: 1 is not a user id (give ids separated by commas, or a number of removals)'],
    ])("refuses pug:allowRemovals=%s", (raw, message) => {
        expect(() => read({ "pug:allowRemovals": raw })).toThrow(new InvalidInputError([message]));
    });
});
