// A persistent worker pool: the calling thread works too, so n threads = n - 1 workers + caller. A worker
// takes part in a run only if it joins before the caller has handed out every task; the caller then waits
// for the workers that joined, never for one the OS has not scheduled yet (on a loaded machine that wait
// was up to a time slice per product).
#pragma once
#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace moekit {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  void set_threads(int threads);
  int threads() const { return nthreads_; }
  // Runs fn(task, thread) for task in [0, ntasks), tasks handed out dynamically; blocks until done.
  void run(int ntasks, const std::function<void(int, int)>& fn);

 private:
  void start(int threads);
  void stop();
  void worker(int tid);
  void work(int tid);
  bool join(uint64_t gen);

  int nthreads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  // (generation << 8) | number of workers taking part in this generation
  std::atomic<uint64_t> state_{0};
  std::atomic<bool> stop_{false};
  // (generation << 16) | kClosed once the caller stops admitting workers | number of workers joined
  std::atomic<uint64_t> join_{0};
  std::atomic<int> next_{0};
  std::atomic<int> finished_{0};
  int ntasks_ = 0;
  const std::function<void(int, int)>* fn_ = nullptr;
  bool busy_ = false;
};

}  // namespace moekit
