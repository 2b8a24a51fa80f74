#include "threadpool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define MK_PAUSE() _mm_pause()
#else
#define MK_PAUSE() std::this_thread::yield()
#endif

namespace moekit {

namespace {
// How long an idle worker spins before it sleeps: ops of one layer arrive back to back.
constexpr auto kSpin = std::chrono::microseconds(800);
constexpr uint64_t kClosed = 0x8000;
constexpr uint64_t kJoined = 0x7fff;
}  // namespace

ThreadPool::ThreadPool(int threads) { start(threads); }
ThreadPool::~ThreadPool() { stop(); }

void ThreadPool::start(int threads) {
  nthreads_ = std::max(1, threads);
  stop_.store(false);
  for (int t = 1; t < nthreads_; t++) workers_.emplace_back(&ThreadPool::worker, this, t);
}

void ThreadPool::stop() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_.store(true);
  }
  cv_.notify_all();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

void ThreadPool::set_threads(int threads) {
  threads = std::max(1, threads);
  if (threads == nthreads_) return;
  stop();
  state_.store(0);
  join_.store(0);
  start(threads);
}

void ThreadPool::work(int tid) {
  for (;;) {
    const int t = next_.fetch_add(1, std::memory_order_relaxed);
    if (t >= ntasks_) break;
    (*fn_)(t, tid);
  }
}

bool ThreadPool::join(uint64_t gen) {
  uint64_t j = join_.load(std::memory_order_acquire);
  while ((j >> 16) == gen && !(j & kClosed)) {
    if (join_.compare_exchange_weak(j, j + 1, std::memory_order_acq_rel, std::memory_order_acquire)) return true;
  }
  return false;
}

void ThreadPool::worker(int tid) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t s = state_.load(std::memory_order_acquire);
    if (s == seen && !stop_.load(std::memory_order_relaxed)) {
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0;; i++) {
        MK_PAUSE();
        s = state_.load(std::memory_order_acquire);
        if (s != seen || stop_.load(std::memory_order_relaxed)) break;
        if ((i & 255) == 255 && std::chrono::steady_clock::now() - t0 > kSpin) {
          std::unique_lock<std::mutex> lk(mu_);
          cv_.wait(lk, [&] { return state_.load(std::memory_order_acquire) != seen || stop_.load(); });
          s = state_.load(std::memory_order_acquire);
          break;
        }
      }
    }
    if (stop_.load()) return;
    seen = s;
    const int active = (int)(s & 0xff);
    if (tid <= active && join(s >> 8)) {
      work(tid);
      finished_.fetch_add(1, std::memory_order_acq_rel);
    }
  }
}

void ThreadPool::run(int ntasks, const std::function<void(int, int)>& fn) {
  if (ntasks <= 0) return;
  const int active = std::min(nthreads_ - 1, ntasks - 1);
  if (active <= 0 || busy_) {
    for (int t = 0; t < ntasks; t++) fn(t, 0);
    return;
  }
  busy_ = true;
  fn_ = &fn;
  ntasks_ = ntasks;
  next_.store(0, std::memory_order_relaxed);
  finished_.store(0, std::memory_order_relaxed);
  const uint64_t gen = ((state_.load(std::memory_order_relaxed) >> 8) + 1) & ((uint64_t{1} << 48) - 1);
  join_.store(gen << 16, std::memory_order_relaxed);
  state_.store((gen << 8) | (uint64_t)active, std::memory_order_release);
  { std::lock_guard<std::mutex> lk(mu_); }
  cv_.notify_all();
  work(0);
  // Every task is taken: close the run to late workers, then wait for those that joined (a joined worker
  // may still be running its last task).
  const int joined = (int)(join_.fetch_or(kClosed, std::memory_order_acq_rel) & kJoined);
  while (finished_.load(std::memory_order_acquire) != joined) MK_PAUSE();
  fn_ = nullptr;
  busy_ = false;
}

}  // namespace moekit
