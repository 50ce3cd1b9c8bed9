import { mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { afterAll, describe, expect, it } from "vitest";
import { FileUserSource, HttpUserSource, InlineUserSource, loadUsers } from "../components/users/userSources";
import { InvalidInputError } from "../components/validation";
import { userSourceFromConfig } from "./userSourceConfig";

const root = mkdtempSync(path.join(tmpdir(), "pug-user-source-config-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("userSourceFromConfig", () => {
    it("picks the source from the shape of pug:users", () => {
        expect(userSourceFromConfig("pug:users", [{ id: "acme" }])).toBeInstanceOf(InlineUserSource);
        expect(userSourceFromConfig("pug:users", undefined)).toBeInstanceOf(InlineUserSource);
        const file = userSourceFromConfig("pug:users", { file: "users.yaml" }, { root });
        expect(file).toBeInstanceOf(FileUserSource);
        expect(file.describe()).toBe("users.yaml");
        const api = userSourceFromConfig("pug:users", { url: "https://users.example/api", token: "t", timeoutMs: 2000 });
        expect(api).toBeInstanceOf(HttpUserSource);
        expect(api.describe()).toBe("https://users.example/api");
    });

    it("treats an absent key as an empty list", async () => {
        await expect(loadUsers(userSourceFromConfig("pug:users", undefined))).resolves.toEqual([]);
    });

    it.each<[string, unknown, string[]]>([
        ["a string", "users.yaml", ['pug:users: must be a list of user records, { file: "users.yaml" } or { url: "https://...", token?, timeoutMs? } (got a string)']],
        [
            "an object of neither shape",
            { path: "users.yaml" },
            ['pug:users: must be a list of user records, { file: "users.yaml" } or { url: "https://...", token?, timeoutMs? } (got an object with neither "file" nor "url")'],
        ],
        ["a typo next to file", { file: "users.yaml", fromat: "yaml" }, ['pug:users: fromat is not a known field (known fields: file)']],
        ["a typo next to url", { url: "https://u.example/", tiemoutMs: 10 }, ['pug:users: tiemoutMs is not a known field (did you mean "timeoutMs"?)']],
        ["an url of another scheme", { url: "file:///etc/passwd" }, ["pug:users: url must be an http:// or https:// URL"]],
        ["a timeout of zero", { url: "https://u.example/", timeoutMs: 0 }, ["pug:users: timeoutMs must be a whole number of milliseconds between 100 and 120000"]],
        ["a token that is not a string", { url: "https://u.example/", token: 42 }, ["pug:users: token must be a string (set it with `pulumi config set --secret --path pug:users.token`)"]],
        ["an empty file name", { file: "" }, ["pug:users: file must be a path (relative to the project root)"]],
    ])("refuses %s, naming the key and the field", (_, value, problems) => {
        expect(() => userSourceFromConfig("pug:users", value, { root })).toThrow(new InvalidInputError(problems));
    });

    it("never repeats the token of a misconfigured URL source", () => {
        let err: Error | undefined;
        try {
            userSourceFromConfig("pug:users", { url: "http://users.example.internal/api", token: "sekrit-token-123" });
        } catch (e) {
            err = e as Error;
        }
        expect(err?.message).toBe("http://users.example.internal/api: the token would travel in plain text; use https:// (http:// is accepted for loopback addresses only)");
    });
});
