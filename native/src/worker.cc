#include "worker.h"

namespace nori {

namespace {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, Task task)
      : Napi::AsyncWorker(env, "nori:sys"), deferred_(Napi::Promise::Deferred::New(env)), task_(std::move(task)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override { result_ = task_(); }

  void OnOK() override {
    Napi::Env env = Env();
    if (result_.error) {
      deferred_.Reject(MakeFsError(env, *result_.error).Value());
    } else if (result_.number) {
      deferred_.Resolve(Napi::Number::New(env, *result_.number));
    } else {
      deferred_.Resolve(env.Undefined());
    }
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Task task_;
  TaskResult result_;
};

Napi::Value Settle(Napi::Env env, const TaskResult& r) {
  if (r.error) throw MakeFsError(env, *r.error);
  if (r.number) return Napi::Number::New(env, *r.number);
  return env.Undefined();
}

}  // namespace

Napi::Value RunAsync(Napi::Env env, Task task) {
  auto* worker = new PromiseWorker(env, std::move(task));  // deletes itself when done
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value RunSync(Napi::Env env, const Task& task) { return Settle(env, task()); }

}  // namespace nori
