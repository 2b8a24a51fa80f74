// A persistent worker pool: the calling thread works too, so n threads = n - 1 workers + caller.
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

  int nthreads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  // (generation << 8) | number of workers taking part in this generation
  std::atomic<uint64_t> state_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int> next_{0};
  std::atomic<int> pending_{0};
  int ntasks_ = 0;
  const std::function<void(int, int)>* fn_ = nullptr;
  bool busy_ = false;
};

}  // namespace moekit
