// dirUsage(path): the bytes and inodes under a directory, for a container's writable layer;
// removeTree(path): rm -rf of one, for the same reason (Node's rm builds paths: ENAMETOOLONG).
//
// A container decides what its upper dir holds, so the walk must survive anything in it: a
// million files, a FIFO, a tree nested far past PATH_MAX. It therefore
//   - runs on a thread of its own (niced, idle I/O class, like cAdvisor's `ionice -c3 nice du`),
//     never on the event loop, and resolves a Promise;
//   - never builds a path: every step is openat/fstatat relative to the parent's fd, and nothing
//     is opened but directories (O_DIRECTORY|O_NOFOLLOW), so FIFOs and devices are only lstat'ed;
//   - keeps at most kMaxOpenDirs directories open: a directory found deeper than that is
//     remembered as a file handle (name_to_handle_at) and walked later from a fresh stack, so
//     depth costs neither fds nor stack frames;
//   - stops after maxEntries entries and says so (`complete: false`).
// Bytes are st_size of every non-directory, inodes every entry below the root (what nori
// reported before this walk moved off the event loop).
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <napi.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "args.h"
#include "errors.h"
#include "exports.h"

namespace nori {

namespace {

constexpr size_t kMaxOpenDirs = 128;
constexpr int kIoprioWhoProcess = 1;
constexpr int kIoprioClassIdle = 3;
constexpr int kIoprioClassShift = 13;

struct Usage {
  double bytes = 0;
  double inodes = 0;
  double entries = 0;
  double unreadable = 0;  // directories that could not be opened (counted as inodes, not walked)
  bool complete = true;
  int rootErr = 0;
};

using Handle = std::vector<char>;

bool HandleOf(int parent, const char* name, Handle* out) {
  out->assign(sizeof(struct file_handle) + MAX_HANDLE_SZ, 0);
  auto* fh = reinterpret_cast<struct file_handle*>(out->data());
  fh->handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  if (name_to_handle_at(parent, name, fh, &mount_id, 0) != 0) return false;
  out->resize(sizeof(struct file_handle) + fh->handle_bytes);
  return true;
}

class Walker {
 public:
  Walker(int rootFd, double maxEntries) : root_(rootFd), max_(maxEntries) {}

  Usage Run() {
    Walk(dup(root_));
    while (!deferred_.empty() && u_.complete) {
      Handle h = std::move(deferred_.back());
      deferred_.pop_back();
      int fd = open_by_handle_at(root_, reinterpret_cast<struct file_handle*>(h.data()), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) {
        u_.unreadable++;
        continue;
      }
      Walk(fd);
    }
    return u_;
  }

 private:
  // Depth-first from dirFd (owned), with at most kMaxOpenDirs directories open at once.
  void Walk(int dirFd) {
    std::vector<DIR*> stack;
    DIR* d = fdopendir(dirFd);
    if (!d) {
      close(dirFd);
      u_.unreadable++;
      return;
    }
    stack.push_back(d);
    while (!stack.empty()) {
      DIR* top = stack.back();
      errno = 0;
      struct dirent* e = readdir(top);
      if (!e) {
        closedir(top);
        stack.pop_back();
        continue;
      }
      const char* n = e->d_name;
      if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
      if (++u_.entries > max_) {
        u_.complete = false;
        break;
      }
      struct stat st;
      if (fstatat(dirfd(top), n, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
      u_.inodes++;
      if (!S_ISDIR(st.st_mode)) {
        u_.bytes += static_cast<double>(st.st_size);
        continue;
      }
      if (stack.size() >= kMaxOpenDirs) {
        Handle h;
        if (HandleOf(dirfd(top), n, &h)) deferred_.push_back(std::move(h));
        else u_.unreadable++;
        continue;
      }
      int fd = openat(dirfd(top), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
      DIR* child = fd >= 0 ? fdopendir(fd) : nullptr;
      if (!child) {
        if (fd >= 0) close(fd);
        u_.unreadable++;
        continue;
      }
      stack.push_back(child);
    }
    for (DIR* s : stack) closedir(s);
  }

  int root_;
  double max_;
  Usage u_;
  std::vector<Handle> deferred_;
};

Usage Measure(const std::string& path, double maxEntries) {
  Usage u;
  // this thread only: lowest CPU priority and the idle I/O class
  pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  setpriority(PRIO_PROCESS, tid, 19);
  syscall(SYS_ioprio_set, kIoprioWhoProcess, tid, kIoprioClassIdle << kIoprioClassShift);
  int root = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (root < 0) {
    u.rootErr = errno;
    return u;
  }
  u = Walker(root, maxEntries).Run();
  close(root);
  return u;
}

class UsageWorker : public Napi::AsyncWorker {
 public:
  UsageWorker(Napi::Env env, std::string path, double maxEntries)
      : Napi::AsyncWorker(env, "nori:dirUsage"), deferred_(Napi::Promise::Deferred::New(env)), path_(std::move(path)), max_(maxEntries) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  // The pool thread only waits: the walk runs on a thread whose priority it may lower for good.
  void Execute() override {
    std::thread t([this] { result_ = Measure(path_, max_); });
    t.join();
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (result_.rootErr) {
      SysError e;
      e.err = result_.rootErr;
      e.syscall = "open";
      e.path = path_;
      deferred_.Reject(MakeFsError(env, e).Value());
      return;
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("bytes", result_.bytes);
    o.Set("inodes", result_.inodes);
    o.Set("entries", result_.entries);
    o.Set("unreadable", result_.unreadable);
    o.Set("complete", result_.complete);
    deferred_.Resolve(o);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_;
  double max_;
  Usage result_;
};

// rm -rf without paths: unlinkat relative to each directory's fd. A directory met with the
// stack full is renamed up into the root (renameat), which flattens any depth; the root is
// re-read until nothing is left in it, and a directory that reads empty but will not go
// (entries added meanwhile) is read again.
int RemoveTree(const std::string& path) {
  int root = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (root < 0) return errno == ENOENT ? 0 : errno;
  struct Level {
    DIR* d;
    std::string name;  // in the parent level
  };
  unsigned long moved = 0;
  int err = 0;
  for (int pass = 0; pass < 1000 && !err; pass++) {
    int fd = dup(root);
    DIR* rd = fd >= 0 ? fdopendir(fd) : nullptr;
    if (!rd) {
      err = errno;
      if (fd >= 0) close(fd);
      break;
    }
    rewinddir(rd);  // a dup shares the offset the last pass left at the end
    std::vector<Level> stack{{rd, ""}};
    bool sawAny = false;
    while (!stack.empty()) {
      DIR* top = stack.back().d;
      struct dirent* e = readdir(top);
      if (e) {
        const char* n = e->d_name;
        if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
        if (stack.size() == 1) sawAny = true;
        if (unlinkat(dirfd(top), n, 0) == 0 || errno == ENOENT) continue;
        if (errno != EISDIR && errno != EPERM) {
          err = errno;
          break;
        }
        if (stack.size() >= kMaxOpenDirs) {
          // a name left by an earlier, interrupted removal may be taken: try the next
          int r = -1;
          for (int tries = 0; tries < 1000 && r != 0; tries++) {
            std::string up = ".nori-rm-" + std::to_string(moved++);
            r = renameat(dirfd(top), n, root, up.c_str());
            if (r != 0 && errno != EEXIST && errno != ENOTEMPTY) break;
          }
          if (r != 0) {
            err = errno;
            break;
          }
          continue;
        }
        int cfd = openat(dirfd(top), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        DIR* c = cfd >= 0 ? fdopendir(cfd) : nullptr;
        if (!c) {
          err = errno;
          if (cfd >= 0) close(cfd);
          break;
        }
        stack.push_back({c, n});
        continue;
      }
      if (stack.size() == 1) {
        closedir(top);
        stack.pop_back();
        break;
      }
      Level done = stack.back();
      stack.pop_back();
      DIR* parent = stack.back().d;
      if (unlinkat(dirfd(parent), done.name.c_str(), AT_REMOVEDIR) == 0 || errno == ENOENT) {
        closedir(done.d);
      } else if (errno == ENOTEMPTY) {
        rewinddir(done.d);
        stack.push_back(done);
      } else {
        err = errno;
        closedir(done.d);
      }
    }
    for (Level& l : stack) closedir(l.d);
    if (!sawAny) break;
  }
  close(root);
  if (err) return err;
  if (rmdir(path.c_str()) != 0 && errno != ENOENT) return errno;
  return 0;
}

class RemoveWorker : public Napi::AsyncWorker {
 public:
  RemoveWorker(Napi::Env env, std::string path)
      : Napi::AsyncWorker(env, "nori:removeTree"), deferred_(Napi::Promise::Deferred::New(env)), path_(std::move(path)) {}
  Napi::Promise Promise() const { return deferred_.Promise(); }
  void Execute() override { err_ = RemoveTree(path_); }
  void OnOK() override {
    if (!err_) return deferred_.Resolve(Env().Undefined());
    SysError e;
    e.err = err_;
    e.syscall = "removeTree";
    e.path = path_;
    deferred_.Reject(MakeFsError(Env(), e).Value());
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_;
  int err_ = 0;
};

Napi::Value RemoveTreeFn(const Napi::CallbackInfo& info) {
  std::string path = StringArg(info, 0, "path");
  auto* w = new RemoveWorker(info.Env(), path);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value DirUsage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "path");
  double maxEntries = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : 1e12;
  if (!(maxEntries > 0)) ThrowTypeError(env, "maxEntries must be positive");
  auto* w = new UsageWorker(env, path, maxEntries);  // deletes itself when done
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

void RegisterDirUsageFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("dirUsage", Napi::Function::New(env, DirUsage));
  exports.Set("removeTree", Napi::Function::New(env, RemoveTreeFn));
}

}  // namespace nori
