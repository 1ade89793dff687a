// Cheap kernel reads for the verbose status view (src/sys/inspect_reads.ts), each synchronous and
// short on the calling thread:
//  - readSmallFiles: many small files (cgroup limits and usage, /proc/PID/cgroup) in one call,
//    open/read/close each, a missing one as null (no exception per absent file);
//  - readFdsAt0: files kept open (a cgroup's limit, usage and cgroup.procs), each read again from
//    offset 0 in one call, as cgroupfs gives fresh contents on every read at 0;
//  - linkCount: a directory's st_nlink (kernfs: 2 plus its subdirectories), with no Stats object;
//  - mountAt: the mount on a path through statx(STATX_MNT_ID_UNIQUE) and statmount(2) (Linux
//    6.11+: MNT_OPTS), instead of reading and scanning the whole /proc/self/mountinfo, which grows
//    with every pod on the node; null where the kernel lacks them (the caller reads mountinfo);
//  - nftGeneration: the netns's nftables ruleset generation (NFT_MSG_GETGEN), which every ruleset
//    change bumps, so a listing of nori's table can be reused while it stays the same.

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <napi.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "exports.h"

#ifndef __NR_statmount
#define __NR_statmount 457
#endif
#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif

namespace nori {
namespace {

// Reads the whole file; false when it cannot be opened or read.
bool ReadWhole(const char* path, std::string* out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return false;
  out->clear();
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return false;
    }
    if (n == 0) break;
    out->append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return true;
}

// readSmallFiles(paths: string[]): Array<string | null>
Napi::Value ReadSmallFiles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) {
    Napi::TypeError::New(env, "paths must be an array of strings").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array paths = info[0].As<Napi::Array>();
  uint32_t n = paths.Length();
  Napi::Array out = Napi::Array::New(env, n);
  std::string text;
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value p = paths.Get(i);
    if (!p.IsString()) {
      out.Set(i, env.Null());
      continue;
    }
    std::string path = p.As<Napi::String>().Utf8Value();
    if (ReadWhole(path.c_str(), &text)) out.Set(i, Napi::String::New(env, text));
    else out.Set(i, env.Null());
  }
  return out;
}

// readFdsAt0(fds: Array<number | null>): Array<string | null | undefined>
// null: no fd, or the read failed (a removed cgroup answers ENODEV); undefined: the file holds
// more than the buffer (the caller reads it by path).
Napi::Value ReadFdsAt0(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) {
    Napi::TypeError::New(env, "fds must be an array").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array fds = info[0].As<Napi::Array>();
  uint32_t n = fds.Length();
  Napi::Array out = Napi::Array::New(env, n);
  char buf[16384];
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value v = fds.Get(i);
    if (!v.IsNumber()) {
      out.Set(i, env.Null());
      continue;
    }
    int fd = v.As<Napi::Number>().Int32Value();
    ssize_t got;
    do got = pread(fd, buf, sizeof buf, 0);
    while (got < 0 && errno == EINTR);
    if (got < 0) out.Set(i, env.Null());
    else if (static_cast<size_t>(got) == sizeof buf) out.Set(i, env.Undefined());
    else out.Set(i, Napi::String::New(env, buf, static_cast<size_t>(got)));
  }
  return out;
}

// linkCount(fd: number): number, -1 when fstat fails
Napi::Value LinkCount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "fd must be a number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  struct stat st;
  if (fstat(info[0].As<Napi::Number>().Int32Value(), &st) != 0) return Napi::Number::New(env, -1);
  return Napi::Number::New(env, static_cast<double>(st.st_nlink));
}

// The uapi layout (include/uapi/linux/mount.h): a fixed 512-byte head, strings after it at the
// offsets the head gives. Defined here: the build host's headers may predate statmount.
struct MntIdReq {
  uint32_t size;
  uint32_t spare;
  uint64_t mnt_id;
  uint64_t param;
};
struct StatmountHead {
  uint32_t size;
  uint32_t mnt_opts;
  uint64_t mask;
  uint32_t sb_dev_major;
  uint32_t sb_dev_minor;
  uint64_t sb_magic;
  uint32_t sb_flags;
  uint32_t fs_type;
  uint64_t mnt_id;
  uint64_t mnt_parent_id;
  uint32_t mnt_id_old;
  uint32_t mnt_parent_id_old;
  uint64_t mnt_attr;
  uint64_t mnt_propagation;
  uint64_t mnt_peer_group;
  uint64_t mnt_master;
  uint64_t propagate_from;
  uint32_t mnt_root;
  uint32_t mnt_point;
  uint64_t rest[50];
};
static_assert(sizeof(StatmountHead) == 512, "statmount's fixed part is 512 bytes");
constexpr uint64_t kStatmountMntBasic = 0x2;
constexpr uint64_t kStatmountMntPoint = 0x10;
constexpr uint64_t kStatmountFsType = 0x20;
constexpr uint64_t kStatmountMntOpts = 0x80;

// mountAt(path: string): { mountId, mountPoint, fsType, options } | null — the mount `path` is on
Napi::Value MountAt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    Napi::TypeError::New(env, "path must be a string").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  struct statx sx {};
  if (statx(AT_FDCWD, path.c_str(), 0, STATX_MNT_ID_UNIQUE, &sx) != 0 || !(sx.stx_mask & STATX_MNT_ID_UNIQUE)) return env.Null();
  MntIdReq req{};
  req.size = 24;  // MNT_ID_REQ_SIZE_VER0
  req.mnt_id = sx.stx_mnt_id;
  req.param = kStatmountMntBasic | kStatmountMntPoint | kStatmountFsType | kStatmountMntOpts;
  std::vector<uint64_t> buf(2048);  // 16 KiB; grown on EOVERFLOW
  for (int tries = 0; tries < 4; tries++) {
    long r = syscall(__NR_statmount, &req, buf.data(), buf.size() * sizeof(uint64_t), 0);
    if (r == 0) break;
    if (errno == EOVERFLOW) {
      buf.resize(buf.size() * 4);
      continue;
    }
    return env.Null();  // ENOSYS, EINVAL (no MNT_OPTS) …: the caller reads mountinfo
  }
  const auto* h = reinterpret_cast<const StatmountHead*>(buf.data());
  constexpr uint64_t kNeeded = kStatmountMntBasic | kStatmountMntPoint | kStatmountFsType;
  if ((h->mask & kNeeded) != kNeeded) return env.Null();
  const char* strs = reinterpret_cast<const char*>(buf.data()) + sizeof(StatmountHead);
  // Without MNT_OPTS in the answer (a kernel before 6.11, or no options shown) the caller reads
  // mountinfo, which tells both apart.
  if (!(h->mask & kStatmountMntOpts)) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("mountId", Napi::Number::New(env, h->mnt_id_old));
  o.Set("fsType", Napi::String::New(env, strs + h->fs_type));
  o.Set("mountPoint", Napi::String::New(env, strs + h->mnt_point));
  o.Set("options", Napi::String::New(env, strs + h->mnt_opts));
  return o;
}

// nftGeneration(): number | null
Napi::Value NftGeneration(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) return env.Null();
  struct {
    nlmsghdr h;
    nfgenmsg g;
  } req{};
  req.h.nlmsg_len = NLMSG_LENGTH(sizeof(nfgenmsg));
  req.h.nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
  req.h.nlmsg_flags = NLM_F_REQUEST;
  req.h.nlmsg_seq = 1;
  req.g.nfgen_family = AF_UNSPEC;
  req.g.version = NFNETLINK_V0;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  Napi::Value result = env.Null();
  if (sendto(fd, &req, req.h.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) >= 0) {
    alignas(nlmsghdr) char buf[1024];
    ssize_t n;
    do n = recv(fd, buf, sizeof buf, 0);
    while (n < 0 && errno == EINTR);
    for (auto* m = reinterpret_cast<nlmsghdr*>(buf); n > 0 && NLMSG_OK(m, static_cast<unsigned>(n)); m = NLMSG_NEXT(m, n)) {
      if (m->nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)) continue;
      int len = static_cast<int>(m->nlmsg_len - NLMSG_LENGTH(sizeof(nfgenmsg)));
      auto* a = reinterpret_cast<nlattr*>(static_cast<char*>(NLMSG_DATA(m)) + NLMSG_ALIGN(sizeof(nfgenmsg)));
      while (len >= static_cast<int>(sizeof(nlattr)) && a->nla_len >= sizeof(nlattr) && a->nla_len <= len) {
        if ((a->nla_type & NLA_TYPE_MASK) == NFTA_GEN_ID && a->nla_len >= NLA_HDRLEN + 4) {
          uint32_t be;
          memcpy(&be, reinterpret_cast<char*>(a) + NLA_HDRLEN, 4);
          result = Napi::Number::New(env, ntohl(be));
          break;
        }
        int step = NLA_ALIGN(a->nla_len);
        len -= step;
        a = reinterpret_cast<nlattr*>(reinterpret_cast<char*>(a) + step);
      }
      break;
    }
  }
  close(fd);
  return result;
}

}  // namespace

void RegisterInspectReadFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("readSmallFiles", Napi::Function::New(env, ReadSmallFiles, "readSmallFiles"));
  exports.Set("readFdsAt0", Napi::Function::New(env, ReadFdsAt0, "readFdsAt0"));
  exports.Set("linkCount", Napi::Function::New(env, LinkCount, "linkCount"));
  exports.Set("mountAt", Napi::Function::New(env, MountAt, "mountAt"));
  exports.Set("nftGeneration", Napi::Function::New(env, NftGeneration, "nftGeneration"));
}

}  // namespace nori
