/**
 * llama.cpp (node-llama-cpp, bench/peers/llama-cpp) for oracle tests: the peer module, or why a test
 * suite skips (the package is installed only by bash bench/peers/llama-cpp/install.sh).
 */
export type LlamaCppPeerModule = typeof import("../../bench/peers/llama-cpp/client.js");

export async function llamaCppPeer(): Promise<{ peer?: LlamaCppPeerModule; why: string }> {
  try {
    const peer = await import("../../bench/peers/llama-cpp/client.js");
    await (await import("../../bench/peers/llama-cpp/node-llama-cpp.js")).cpuLlama();
    return { peer, why: "" };
  } catch (e) {
    return { why: `node-llama-cpp is not installed (bash bench/peers/llama-cpp/install.sh): ${(e as Error).message.split("\n")[0]}` };
  }
}
