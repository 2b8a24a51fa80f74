/**
 * What `GET /metrics` reports, in Prometheus' text format: queue depth, running sequences, decode
 * tokens/s over the last 10 s, forwards per phase and experts implementation (what `auto` picked at
 * each step), requests by endpoint and status, KV cache bytes, resident memory.
 */
import type { BatchEngine, StepInfo } from "./engine/scheduler.js";

const WINDOW_MS = 10_000;

export class ServeMetrics {
  private readonly steps = new Map<string, number>();
  private readonly requests = new Map<string, number>();
  private readonly recent: { at: number; tokens: number }[] = [];
  private generated = 0;
  private prompt = 0;
  private lastImpl = new Map<string, string>();
  private readonly seconds = new Map<string, number>();

  onStep(s: StepInfo): void {
    const key = `phase="${s.phase}",implementation="${s.implementation}"`;
    this.steps.set(key, (this.steps.get(key) ?? 0) + 1);
    this.lastImpl.set(s.phase, s.implementation);
    this.seconds.set(s.phase, (this.seconds.get(s.phase) ?? 0) + s.ms / 1000);
    if (s.phase === "decode") this.recent.push({ at: performance.now(), tokens: s.rows });
  }

  onRequest(endpoint: string, status: number): void {
    const key = `endpoint="${endpoint}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  onUsage(promptTokens: number, completionTokens: number): void {
    this.prompt += promptTokens;
    this.generated += completionTokens;
  }

  /** Decode tokens per second over the last 10 s. */
  tokensPerSecond(): number {
    const now = performance.now();
    while (this.recent.length > 0 && now - this.recent[0]!.at > WINDOW_MS) this.recent.shift();
    if (this.recent.length === 0) return 0;
    const span = Math.max(now - this.recent[0]!.at, 1000);
    return (this.recent.reduce((n, r) => n + r.tokens, 0) / span) * 1000;
  }

  render(engine: BatchEngine): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, values: [string, number][]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of values) lines.push(`${name}${labels ? `{${labels}}` : ""} ${Number.isFinite(v) ? v : 0}`);
    };
    metric("moekit_queue_depth", "gauge", "Requests waiting for a place in the running batch.", [["", engine.queueDepth]]);
    metric("moekit_active_sequences", "gauge", "Sequences in the running batch (prefilling or decoding).", [["", engine.activeSequences]]);
    metric("moekit_decode_tokens_per_second", "gauge", "Tokens decoded per second over the last 10 s, all sequences together.", [["", this.tokensPerSecond()]]);
    metric("moekit_prompt_tokens_total", "counter", "Prompt tokens of finished requests.", [["", this.prompt]]);
    metric("moekit_generated_tokens_total", "counter", "Tokens generated for finished requests.", [["", this.generated]]);
    metric("moekit_forward_steps_total", "counter", "Model forwards by phase and the experts implementation that ran (what auto picked).", [...this.steps]);
    metric("moekit_forward_seconds_total", "counter", "Time spent in model forwards, by phase.", [...this.seconds].map(([p, v]) => [`phase="${p}"`, v] as [string, number]));
    metric("moekit_experts_implementation", "gauge", "The experts implementation of the last forward of each phase (1 = current).", [...this.lastImpl].map(([p, i]) => [`phase="${p}",implementation="${i}"`, 1] as [string, number]));
    metric("moekit_requests_total", "counter", "Finished HTTP requests by endpoint and status.", [...this.requests]);
    metric("moekit_kv_cache_bytes", "gauge", "Bytes held by the KV caches of running sequences.", [["", engine.cache.bytesInUse]]);
    metric("moekit_kv_cache_budget_bytes", "gauge", "The KV cache budget (+Inf: none).", [["", engine.cache.budgetBytes]]);
    if (!Number.isFinite(engine.cache.budgetBytes)) lines[lines.length - 1] = "moekit_kv_cache_budget_bytes +Inf";
    metric("process_resident_memory_bytes", "gauge", "Resident memory of the server process.", [["", process.memoryUsage.rss()]]);
    return `${lines.join("\n")}\n`;
  }
}
