/**
 * `moekit chat` as a person uses it: typed into a pseudo-terminal (tmux), read off the screen. Skipped
 * where tmux is missing (.ci/run installs it).
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { after, describe, it } from "node:test";
import { cpuBackendAvailable } from "../../src/backends/cpu/index.js";
import { createChat } from "../../src/chat/create-chat.js";
import { chatModelDir } from "./chat-model.js";

const hasTmux = spawnSync("tmux", ["-V"]).status === 0;
// one tmux server per test: a server whose last session just ended may still be exiting
let socket = "";
const sockets: string[] = [];
const newSocket = () => sockets.push((socket = `moekit-chat-test-${process.pid}-${sockets.length}`));
const tmux = (...args: string[]) => execFileSync("tmux", ["-L", socket, ...args], { encoding: "utf8" });
const screen = () => {
  const r = spawnSync("tmux", ["-L", socket, "capture-pane", "-p", "-J", "-S", "-", "-t", "chat"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout : "";
};
const alive = () => spawnSync("tmux", ["-L", socket, "has-session", "-t", "chat"]).status === 0;

async function waitFor(what: string, test: (s: string) => boolean, ms = 60_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const s = alive() ? screen() : "";
    if (test(s)) return s;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; screen:\n${s}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Letters and digits only: what a terminal shows of arbitrary model text, whatever control characters it holds. */
const skeleton = (s: string) => s.replace(/[^A-Za-z0-9]/g, "");
const turnLines = (s: string) => [...s.matchAll(/\[(\d+) tokens, [\d.]+ tok\/s; prompt (\d+) tokens in [\d.]+ s([^\]]*)\]/g)].map((m) => ({ tokens: Number(m[1]), prompt: Number(m[2]), note: m[3]! }));

describe("moekit chat in a terminal", { skip: !hasTmux || !cpuBackendAvailable() ? "needs tmux and the cpu backend" : false }, () => {
  after(() => sockets.forEach((s) => spawnSync("tmux", ["-L", s, "kill-server"])));

  it("multi-turn REPL: streamed answers, tokens/s per turn, /reset, Ctrl-C stops a turn, /exit", async () => {
    const dir = chatModelDir();
    const cmd = ["node", "--import", "tsx", "test/chat/cli-entry.ts", "chat", dir, "--system", "'Be brief.'", "--max-new-tokens", "12", "--temperature", "0", "--backend", "cpu"].join(" ");
    newSocket();
    tmux("new-session", "-d", "-s", "chat", "-x", "200", "-y", "50", cmd);
    await waitFor("the prompt", (s) => /moekit chat — qwen3_moe on cpu/.test(s) && /^> $/m.test(s));

    const expected = await createChat(dir, { backend: "cpu", systemPrompt: "Be brief.", generation: { maxNewTokens: 12, doSample: false } });
    const first = await expected.send("Hi");
    tmux("send-keys", "-t", "chat", "-l", "Hi");
    tmux("send-keys", "-t", "chat", "Enter");
    let s = await waitFor("the first answer", (x) => turnLines(x).length === 1);
    const answerArea = s.slice(s.indexOf("> Hi"), s.indexOf("[12 tokens"));
    assert.ok(skeleton(answerArea).includes(skeleton(first.content)), `the answer ${JSON.stringify(first.content)} is on screen:\n${s}`);
    assert.deepEqual(turnLines(s)[0], { tokens: first.completionTokens, prompt: first.promptTokens, note: first.finishReason === "length" ? ", token limit" : "" });

    tmux("send-keys", "-t", "chat", "-l", "And Paris?");
    tmux("send-keys", "-t", "chat", "Enter");
    s = await waitFor("the second answer", (x) => turnLines(x).length === 2);
    const second = await expected.send("And Paris?");
    assert.equal(turnLines(s)[1]!.prompt, second.promptTokens, "the second turn's prompt holds the first turn");

    tmux("send-keys", "-t", "chat", "-l", "/reset");
    tmux("send-keys", "-t", "chat", "Enter");
    await waitFor("the reset", (x) => x.includes("(conversation cleared)"));
    tmux("send-keys", "-t", "chat", "-l", "Hi");
    tmux("send-keys", "-t", "chat", "Enter");
    s = await waitFor("the answer after /reset", (x) => turnLines(x).length === 3);
    assert.equal(turnLines(s)[2]!.prompt, first.promptTokens, "after /reset only the system prompt is left");
    expected.dispose();

    tmux("send-keys", "-t", "chat", "-l", "/exit");
    tmux("send-keys", "-t", "chat", "Enter");
    await waitFor("the process to end", () => !alive(), 20_000);
  });

  it("Ctrl-C stops the answer being written; the chat goes on", async () => {
    const cmd = ["node", "--import", "tsx", "test/chat/cli-entry.ts", "chat", chatModelDir(), "--max-new-tokens", "100000", "--temperature", "0", "--backend", "reference"].join(" ");
    newSocket();
    tmux("new-session", "-d", "-s", "chat", "-x", "200", "-y", "50", cmd);
    await waitFor("the prompt", (s) => /^> $/m.test(s));
    tmux("send-keys", "-t", "chat", "-l", "Write forever");
    tmux("send-keys", "-t", "chat", "Enter");
    // the answer could run to the context's end (~230 tokens, over a second on the reference backend)
    await new Promise((r) => setTimeout(r, 150));
    tmux("send-keys", "-t", "chat", "C-c");
    const s = await waitFor("the stopped turn", (x) => turnLines(x).length === 1);
    assert.equal(turnLines(s)[0]!.note, ", stopped");
    assert.ok(turnLines(s)[0]!.tokens < 200);
    assert.ok(alive(), "the chat is still running");
    tmux("send-keys", "-t", "chat", "C-d");
    await waitFor("the process to end", () => !alive(), 20_000);
  });
});
