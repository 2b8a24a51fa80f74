/** A tiny chat model directory: test/fixtures/transformers/qwen3_moe's weights with test/fixtures/chat-model's tokenizer and Qwen3 template. */
import { copyFileSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const FIXTURES = join(import.meta.dirname, "..", "fixtures");
let made: string | undefined;

export function chatModelDir(): string {
  if (made) return made;
  const dir = mkdtempSync(join(tmpdir(), "moekit-chat-model-"));
  for (const f of ["config.json", "model.safetensors"]) copyFileSync(join(FIXTURES, "transformers", "qwen3_moe", f), join(dir, f));
  for (const f of readdirSync(join(FIXTURES, "chat-model"))) copyFileSync(join(FIXTURES, "chat-model", f), join(dir, f));
  return (made = dir);
}

/** transformers 5.18's apply_chat_template ids for [system "Be brief.", user "Hi 你好 🙂!"] with the generation prompt (scripts/tiny-chat-model.py's tokenizer). */
export const ORACLE_IDS = [504, 406, 198, 33, 68, 423, 81, 72, 68, 69, 13, 505, 198, 504, 408, 198, 39, 72, 220, 160, 121, 254, 161, 98, 121, 220, 172, 253, 247, 224, 0, 505, 198, 504, 484, 198];
export const IM_END = 505;
