// File-descriptor helpers: SCM_RIGHTS passing over a Unix socket, and pidfd_open.
#include <errno.h>
#include <napi.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "args.h"
#include "errors.h"
#include "exports.h"

namespace nori {

namespace {

Napi::Value SendFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = static_cast<int>(IntArg(info, 0, "socketFd"));
  int fd = static_cast<int>(IntArg(info, 1, "fd"));
  char byte = 0;  // SCM_RIGHTS needs at least one byte of real data
  struct iovec iov = {&byte, 1};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
  ssize_t n;
  do {
    n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno(env, errno, "sendmsg");
  return env.Undefined();
}

// The received fd is close-on-exec. EAGAIN on a non-blocking socket with nothing queued.
Napi::Value RecvFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int sock = static_cast<int>(IntArg(info, 0, "socketFd"));
  char byte;
  struct iovec iov = {&byte, 1};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) ThrowErrno(env, errno, "recvmsg");
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof fd);
      return Napi::Number::New(env, fd);
    }
  }
  ThrowErrno(env, n == 0 ? ECONNRESET : EBADMSG, "recvmsg");
}

Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t pid = IntArg(info, 0, "pid");
  long fd = syscall(SYS_pidfd_open, static_cast<pid_t>(pid), 0);
  if (fd < 0) ThrowErrno(env, errno, "pidfd_open");
  return Napi::Number::New(env, static_cast<double>(fd));
}

}  // namespace

void RegisterFdFunctions(Napi::Env env, Napi::Object exports) {
  exports.Set("sendFd", Napi::Function::New(env, SendFd));
  exports.Set("recvFd", Napi::Function::New(env, RecvFd));
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen));
}

}  // namespace nori
