import { mkdtempSync, mkdirSync, rmSync, truncateSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { afterAll, describe, expect, it } from "vitest";
import {
    FileUserSource,
    InlineUserSource,
    loadUsers,
    USER_LIST_MAX_BYTES,
    UserSourceError,
    type UserSource,
} from "./userSources";
import { InvalidInputError } from "../validation";

const root = mkdtempSync(path.join(tmpdir(), "pug-user-sources-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function write(name: string, text: string): string {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), text);
    return name;
}

describe("InlineUserSource", () => {
    it("loads the list as given and names itself after the config key", async () => {
        const source = new InlineUserSource([{ id: "acme", theme: "dark" }]);
        expect(source.describe()).toBe("pug:users");
        await expect(loadUsers(source)).resolves.toEqual([{ id: "acme", active: true, theme: "dark" }]);
    });
});

describe("a source of a stack's own", () => {
    it("gets the same validation and messages through loadUsers", async () => {
        const fromCrm: UserSource = { describe: () => "crm customers", load: async () => [{ id: "acme" }, { id: "acme" }] };
        await expect(loadUsers(fromCrm)).rejects.toThrow(new InvalidInputError(['crm customers: entry 2 (id "acme"): id duplicates entry 1']));
    });
});

describe("FileUserSource", () => {
    it("reads YAML relative to the root", async () => {
        write("config/users.yaml", "# customers\n- id: acme\n  replicas: 2\n- id: globex\n  active: false\n");
        await expect(loadUsers(new FileUserSource("config/users.yaml", root))).resolves.toEqual([
            { id: "acme", active: true, replicas: 2 },
            { id: "globex", active: false },
        ]);
    });

    it("reads JSON", async () => {
        write("users.json", JSON.stringify([{ id: "acme", theme: "light" }]));
        await expect(loadUsers(new FileUserSource("users.json", root))).resolves.toEqual([{ id: "acme", active: true, theme: "light" }]);
    });

    it("names the file, the entry and the field in validation errors", async () => {
        write("users.yaml", "- id: acme\n- id: ac-me\n  replicas: 0\n");
        await expect(loadUsers(new FileUserSource("users.yaml", root))).rejects.toThrow(
            new InvalidInputError(['users.yaml: entry 2 (id "ac-me"): replicas must be a whole number >= 1']),
        );
    });

    it("keeps YAML 1.2 scalars: `active: no` is a string, refused, not false", async () => {
        write("yes-no.yaml", "- id: acme\n  active: no\n");
        await expect(loadUsers(new FileUserSource("yes-no.yaml", root))).rejects.toThrow(
            new InvalidInputError(['yes-no.yaml: entry 1 (id "acme"): active must be true or false (got a string)']),
        );
    });

    it.each<[string, string, string, string]>([
        ["a missing file", "absent.yaml", "", `absent.yaml: cannot read the user list (${path.join(root, "absent.yaml")}): no such file`],
        ["a directory", "config", "", `config: cannot read the user list (${path.join(root, "config")}): it is a directory`],
        ["broken YAML", "broken.yaml", "- id: acme\n  theme: [dark\n", "broken.yaml: line 3, column 1:"],
        ["a key given twice in one record", "twice.yaml", "- id: acme\n  theme: dark\n  theme: light\n", "twice.yaml: line 3, column 3: Map keys must be unique"],
        ["broken JSON", "broken.json", '[{"id": "acme"', "broken.json: is not valid JSON:"],
    ])("refuses %s with the file's name", async (_, name, text, message) => {
        if (text) write(name, text);
        const err = await new FileUserSource(name, root).load().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(UserSourceError);
        expect((err as Error).message.startsWith(message)).toBe(true);
    });

    it("refuses an empty file as not a list (an empty list must be written as [])", async () => {
        write("empty.yaml", "# nobody\n");
        await expect(loadUsers(new FileUserSource("empty.yaml", root))).rejects.toThrow(new InvalidInputError(["empty.yaml: must be a list of user records (got null)"]));
        write("none.yaml", "[]\n");
        await expect(loadUsers(new FileUserSource("none.yaml", root))).resolves.toEqual([]);
    });

    it("bounds YAML aliases, so a small file cannot expand into a huge list, and names the file", async () => {
        const levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
        for (let i = 1; i < 10; i++) levels.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(", ")}]`);
        write("bomb.yaml", `${levels.join("\n")}\n`);
        const err = await new FileUserSource("bomb.yaml", root).load().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(UserSourceError);
        expect((err as Error).message).toBe("bomb.yaml: expands YAML aliases more than 100 times (a guard against a small file growing into a huge list): write the list out");
    });

    it.each<[string, string, string, string]>([
        ["an unknown YAML tag", "tag.yaml", "- id: !customer acme\n", "tag.yaml: line 1, column 7: unknown YAML tag !customer: tags are not read, write the plain value"],
        ["a YAML 1.1 tag", "binary.yaml", "- id: acme\n  theme: !!binary ZGFyaw==\n", "binary.yaml: line 2, column 10: unknown YAML tag !!binary: tags are not read, write the plain value"],
        ["a key given twice in a JSON file", "twice.json", '[{"id": "acme", "theme": "dark", "theme": "light"}]', 'twice.json: line 1, column 34: "theme" is given twice in one object (which one counts would be left to the parser)'],
    ])("refuses %s, naming the file and where", async (_, name, text, message) => {
        write(name, text);
        const err = await new FileUserSource(name, root).load().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(UserSourceError);
        expect((err as Error).message).toBe(message);
    });

    it("refuses a file over the size limit from its size, without reading it", async () => {
        const huge = write("huge.yaml", "");
        truncateSync(path.join(root, huge), 100 * 1024 * 1024); // sparse: no disk, and no memory if not read
        const started = Date.now();
        const err = await new FileUserSource(huge, root).load().catch((e: unknown) => e);
        expect((err as Error).message).toBe(`huge.yaml: is 104857600 bytes, more than the ${USER_LIST_MAX_BYTES} bytes (16 MiB) a user list may have`);
        expect(Date.now() - started).toBeLessThan(2000);
    }, 10_000);

    it("stops reading at the limit a file that keeps growing or never ends", async () => {
        write("small.yaml", `- id: acme\n  theme: ${"x".repeat(2000)}\n`);
        await expect(new FileUserSource("small.yaml", root, { maxBytes: 1000 }).load()).rejects.toThrow("small.yaml: is 2021 bytes, more than the 1000 bytes a user list may have");
        // a device reports size 0 and never ends
        await expect(new FileUserSource("/dev/zero", root, { maxBytes: 1000 }).load()).rejects.toThrow("/dev/zero: is larger than the 1000 bytes a user list may have");
    });
});

