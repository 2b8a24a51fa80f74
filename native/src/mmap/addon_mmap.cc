// Read-only file mappings for checkpoint weights (POSIX). `open(path)` maps the whole file once (MAP_SHARED,
// PROT_READ) and returns a handle; `view(handle, offset, length)` is an external ArrayBuffer over bytes of the
// mapping, so kernels read weights in place and only the pages touched become resident. The mapping is
// reference-counted: the handle and every view hold one reference (dropped by their finalizers), and the file
// is unmapped when the last goes, so a view can never outlive the pages it points at. `unmap(handle, views)`
// releases the mapping at once (a disposed model): it detaches every view it is given first (their typed
// arrays then have length 0, and the native argument checks refuse them by name), and the handle refuses
// every later call; the struct itself lives until the last finalizer. `advise` and `resident` serve the
// expert cache (madvise / posix_fadvise / mincore over ranges of the mapping).
#include "addon_mmap.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace moekit {
namespace mmap {

namespace {

struct Mapping {
  char* base = nullptr;
  size_t size = 0;
  int fd = -1;
  std::string path;
  std::atomic<int> refs{1};
  // set by unmap(): the pages are gone and the handle refuses every call (only the JS thread touches it)
  bool closed = false;
};

void unmap_now(Mapping* m) {
#if !defined(_WIN32)
  if (m->base) munmap(m->base, m->size);
  if (m->fd >= 0) close(m->fd);
#endif
  m->base = nullptr;
  m->fd = -1;
  m->closed = true;
}

void release(Mapping* m) {
  if (m->refs.fetch_sub(1) != 1) return;
  if (!m->closed) unmap_now(m);
  delete m;
}

std::string err(const std::string& op, const std::string& what) { return "moekit native mmap." + op + ": " + what; }

Mapping* handle_of(const Napi::CallbackInfo& info, const char* op) {
  if (info.Length() < 1 || !info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), err(op, "expects a mapping handle from mmap.open"));
  Mapping* m = info[0].As<Napi::External<Mapping>>().Data();
  if (m->closed) throw Napi::Error::New(info.Env(), err(op, m->path + " was unmapped (the model using it was disposed)"));
  return m;
}

// [offset, offset + length) from arguments i and i + 1, checked against the mapping.
void range_of(const Napi::CallbackInfo& info, size_t i, const char* op, const Mapping* m, size_t& off, size_t& len) {
  Napi::Env env = info.Env();
  if (info.Length() < i + 2 || !info[i].IsNumber() || !info[i + 1].IsNumber()) throw Napi::TypeError::New(env, err(op, "offset and length must be numbers"));
  const double o = info[i].As<Napi::Number>().DoubleValue();
  const double l = info[i + 1].As<Napi::Number>().DoubleValue();
  if (!(o >= 0 && l >= 0) || o != (double)(int64_t)o || l != (double)(int64_t)l || o + l > (double)m->size)
    throw Napi::RangeError::New(env, err(op, "range of " + std::to_string((int64_t)l) + " bytes at " + std::to_string((int64_t)o) + " is outside " + m->path + " (" + std::to_string(m->size) + " bytes)"));
  off = (size_t)o;
  len = (size_t)l;
}

#if !defined(_WIN32)
size_t page_size() {
  static const size_t p = (size_t)sysconf(_SC_PAGESIZE);
  return p;
}

// The whole pages covering [off, off + len), clipped to the mapping.
void page_span(const Mapping* m, size_t off, size_t len, size_t& p0, size_t& plen) {
  const size_t ps = page_size();
  p0 = off / ps * ps;
  const size_t end = std::min(m->size, (off + len + ps - 1) / ps * ps);
  plen = end > p0 ? end - p0 : 0;
}
#endif

Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, err("open", "path must be a string"));
  const std::string path = info[0].As<Napi::String>().Utf8Value();
#if defined(_WIN32)
  throw Napi::Error::New(env, err("open", "memory-mapped weights need a POSIX system"));
#else
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Napi::Error::New(env, err("open", path + ": " + std::strerror(errno)));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const int e = errno;
    close(fd);
    throw Napi::Error::New(env, err("open", path + ": " + (S_ISREG(st.st_mode) ? std::strerror(e) : "not a regular file")));
  }
  auto* m = new Mapping();
  m->fd = fd;
  m->size = (size_t)st.st_size;
  m->path = path;
  if (m->size > 0) {
    void* p = ::mmap(nullptr, m->size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      const int e = errno;
      close(fd);
      delete m;
      throw Napi::Error::New(env, err("open", path + ": mmap failed: " + std::strerror(e)));
    }
    m->base = (char*)p;
  }
  return Napi::External<Mapping>::New(env, m, [](Napi::Env, Mapping* mm) { release(mm); });
#endif
}

Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), (double)handle_of(info, "size")->size); }

// view(handle, offset, length): an ArrayBuffer over the mapped bytes (no copy); holds the mapping alive.
Napi::Value View(const Napi::CallbackInfo& info) {
  Mapping* m = handle_of(info, "view");
  size_t off, len;
  range_of(info, 1, "view", m, off, len);
  if (len == 0) return Napi::ArrayBuffer::New(info.Env(), 0);
  m->refs.fetch_add(1);
  return Napi::ArrayBuffer::New(info.Env(), m->base + off, len, [](Napi::Env, void*, Mapping* mm) { release(mm); }, m);
}

// advise(handle, offset, length, kind): "willneed" starts reading the pages in the background; "dontneed" drops
// them from this process (they stay in the page cache); "evict" also asks the kernel to drop them from the page
// cache (posix_fadvise DONTNEED: clean file pages, so nothing is written). Returns whether the kernel accepted it.
Napi::Value Advise(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Mapping* m = handle_of(info, "advise");
  size_t off, len;
  range_of(info, 1, "advise", m, off, len);
  if (info.Length() < 4 || !info[3].IsString()) throw Napi::TypeError::New(env, err("advise", "kind must be a string"));
  const std::string kind = info[3].As<Napi::String>().Utf8Value();
#if defined(_WIN32)
  (void)off;
  (void)len;
  return Napi::Boolean::New(env, false);
#else
  // Read-ahead covers the range's pages; dropping keeps to the pages wholly inside it (a neighbour's rows stay).
  size_t p0, plen;
  if (kind == "willneed") {
    page_span(m, off, len, p0, plen);
  } else {
    const size_t ps = page_size();
    p0 = (off + ps - 1) / ps * ps;
    const size_t end = off + len == m->size ? m->size : (off + len) / ps * ps;
    plen = end > p0 ? end - p0 : 0;
  }
  if (plen == 0) return Napi::Boolean::New(env, true);
  int rc = 0;
  if (kind == "willneed") {
    rc = madvise(m->base + p0, plen, MADV_WILLNEED);
  } else if (kind == "dontneed") {
    rc = madvise(m->base + p0, plen, MADV_DONTNEED);
  } else if (kind == "evict") {
    rc = madvise(m->base + p0, plen, MADV_DONTNEED);
    if (rc == 0) rc = posix_fadvise(m->fd, (off_t)p0, (off_t)plen, POSIX_FADV_DONTNEED);
  } else {
    throw Napi::RangeError::New(env, err("advise", "kind '" + kind + "' is not willneed, dontneed or evict"));
  }
  return Napi::Boolean::New(env, rc == 0);
#endif
}

// resident(handle, offset, length): bytes of the range's pages in the page cache (mincore), whole pages.
Napi::Value Resident(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Mapping* m = handle_of(info, "resident");
  size_t off, len;
  range_of(info, 1, "resident", m, off, len);
#if defined(_WIN32)
  return Napi::Number::New(env, 0);
#else
  size_t p0, plen;
  page_span(m, off, len, p0, plen);
  if (plen == 0) return Napi::Number::New(env, 0);
  const size_t ps = page_size();
  std::string vec((plen + ps - 1) / ps, '\0');
  if (mincore(m->base + p0, plen, (unsigned char*)vec.data()) != 0) throw Napi::Error::New(env, err("resident", std::strerror(errno)));
  size_t n = 0;
  for (char c : vec) n += (c & 1);
  return Napi::Number::New(env, (double)(n * ps));
#endif
}

// unmap(handle, views): detaches every ArrayBuffer in `views` (the views of this mapping still reachable,
// which the caller tracks), then unmaps the file. Detaching first is what makes the unmap safe: no script
// can reach the pages afterwards. A view that is not detachable fails before anything is unmapped.
Napi::Value Unmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Mapping* m = handle_of(info, "unmap");
  if (info.Length() < 2 || !info[1].IsArray()) throw Napi::TypeError::New(env, err("unmap", "views must be an array of ArrayBuffers"));
  Napi::Array views = info[1].As<Napi::Array>();
  const uint32_t n = views.Length();
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value v = views.Get(i);
    if (!v.IsArrayBuffer()) throw Napi::TypeError::New(env, err("unmap", "views[" + std::to_string(i) + "] is not an ArrayBuffer"));
    const char* base = m->base;
    const char* data = (const char*)v.As<Napi::ArrayBuffer>().Data();
    const size_t len = v.As<Napi::ArrayBuffer>().ByteLength();
    if (len > 0 && (data < base || data + len > base + m->size)) throw Napi::RangeError::New(env, err("unmap", "views[" + std::to_string(i) + "] is not a view of " + m->path));
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value ab = views.Get(i);
    bool detached = false;
    if (napi_is_detached_arraybuffer(env, ab, &detached) != napi_ok) throw Napi::Error::New(env, err("unmap", "cannot inspect views[" + std::to_string(i) + "]"));
    if (!detached && napi_detach_arraybuffer(env, ab) != napi_ok) throw Napi::Error::New(env, err("unmap", "views[" + std::to_string(i) + "] cannot be detached"));
  }
  unmap_now(m);
  return env.Undefined();
}

}  // namespace

Napi::Object addon_exports(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("open", Napi::Function::New(env, Open));
  o.Set("size", Napi::Function::New(env, Size));
  o.Set("view", Napi::Function::New(env, View));
  o.Set("advise", Napi::Function::New(env, Advise));
  o.Set("resident", Napi::Function::New(env, Resident));
  o.Set("unmap", Napi::Function::New(env, Unmap));
  return o;
}

}  // namespace mmap
}  // namespace moekit
