#include "gtgm/dist/reducer.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <mutex>
#include <unordered_set>

#include "gtgm/core/error.h"
#include "gtgm/core/logging.h"
#include "gtgm/core/torch_compat.h"
#include "gtgm/dist/collectives.h"
#include "process_group.h"

namespace gtgm::dist {

struct Reducer::State {
  Context ctx;
  ReduceMode mode = ReduceMode::Bucketed;
  std::vector<torch::Tensor> params;  // trainable ones, registration order

  struct Bucket {
    std::vector<std::size_t> members;  // indices into params
    std::vector<int64_t> offsets;      // element offsets in flat
    torch::Tensor flat;
    std::size_t pending = 0;
    bool launched = false;
    Work work;
  };
  std::vector<Bucket> buckets;
  std::vector<std::pair<std::size_t, std::size_t>> where;  // param -> (bucket, slot)
  std::vector<char> ready;                                 // param's slot is filled this step
  std::vector<char> hooked;                                // param's gradient hook fired this step
  std::size_t next_launch = 0;
  bool sync = true;
  bool dirty = false;          // some hook fired since the last finish()
  int64_t launched_early = 0;  // before finish()
  int64_t last_launched_early = 0;
  // Keeps the gradient accumulators (and so the hooks) alive.
  std::vector<core::compat::GradAccumulatorPtr> accumulators;
  std::mutex mutex;

  // Parameter i's slot in its bucket, shaped like the parameter.
  torch::Tensor slot_view(std::size_t i) {
    const auto [b, slot] = where[i];
    return buckets[b].flat.narrow(0, buckets[b].offsets[slot], params[i].numel()).view(params[i].sizes());
  }

  // A tensor over parameter i's slot that is not an autograd view of the bucket (optimisers'
  // zero_grad() calls detach_(), which views refuse): same storage, own offset and sizes.
  torch::Tensor slot_alias(std::size_t i) {
    const auto [b, slot] = where[i];
    const auto sizes = params[i].sizes();
    std::vector<int64_t> strides(sizes.size(), 1);
    for (int64_t d = static_cast<int64_t>(sizes.size()) - 2; d >= 0; --d) strides[d] = strides[d + 1] * sizes[d + 1];
    torch::Tensor alias = torch::empty({0}, buckets[b].flat.options());
    alias.set_(buckets[b].flat.storage(), buckets[b].offsets[slot], sizes, strides);
    return alias;
  }

  // Whether parameter i's gradient already lives in its bucket slot (set by finish(); the
  // gradient accumulator then adds into it in place, and nothing needs copying).
  bool grad_is_slot(std::size_t i) {
    const torch::Tensor& grad = params[i].grad();
    if (!grad.defined() || !grad.is_contiguous()) return false;
    const auto [b, slot] = where[i];
    const auto* base = static_cast<const char*>(buckets[b].flat.data_ptr());
    return grad.data_ptr() == base + buckets[b].offsets[slot] * buckets[b].flat.element_size() &&
           grad.sizes() == params[i].sizes();
  }

  // Puts parameter i's gradient (or zeros) into its bucket slot.
  void fill_slot(std::size_t i) {
    if (grad_is_slot(i)) return;
    torch::Tensor view = slot_view(i);
    const torch::Tensor& grad = params[i].grad();
    if (grad.defined()) {
      GTGM_CHECK(!grad.is_sparse(), "Reducer: parameter #{} has a sparse gradient (not supported)", i);
      view.copy_(grad);
    } else {
      view.zero_();
    }
  }

  void launch(std::size_t b) {
    Bucket& bucket = buckets[b];
    // Pre-divide (as DDP) so that the sum is the average and fp16 sums do not overflow.
    bucket.flat.div_(ctx.world_size());
    std::vector<at::Tensor> tensors{bucket.flat};
    bucket.work = ctx.group()->allreduce(tensors, ReduceOp::Sum);
    bucket.launched = true;
  }

  // Launches, strictly in bucket order, every bucket that is complete: every rank then issues
  // the same collectives in the same order, whatever order its gradients arrived in.
  void launch_ready(bool early) {
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
      launch(next_launch);
      if (early) ++launched_early;
      ++next_launch;
    }
  }

  // Fills parameter i's slot and launches what became complete.
  void set_ready(std::size_t i, bool early) {
    ready[i] = 1;
    dirty = true;
    fill_slot(i);
    --buckets[where[i].first].pending;
    launch_ready(early);
  }

  void mark_ready(std::size_t i) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!sync || !ctx.distributed() || mode != ReduceMode::Bucketed) return;
    GTGM_CHECK(!ready[i],
               "Reducer: parameter #{} (shape {}) received a gradient twice before finish(); call finish() after each "
               "backward, or run the earlier backward passes inside no_sync()",
               i, params[i].sizes());
    hooked[i] = 1;
    set_ready(i, true);
  }

  void reset() {
    for (auto& bucket : buckets) {
      bucket.pending = bucket.members.size();
      bucket.launched = false;
      bucket.work = Work();
    }
    std::fill(ready.begin(), ready.end(), 0);
    std::fill(hooked.begin(), hooked.end(), 0);
    next_launch = 0;
    dirty = false;
    last_launched_early = launched_early;
    launched_early = 0;
  }
};

namespace {

struct GradReadyHook : torch::autograd::FunctionPostHook {
  GradReadyHook(std::weak_ptr<Reducer::State> state, std::size_t index) : state_(std::move(state)), index_(index) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list& /*inputs*/) override {
    if (auto s = state_.lock()) s->mark_ready(index_);
    return outputs;
  }
  std::weak_ptr<Reducer::State> state_;
  std::size_t index_;
};

// Every rank must hold the same parameters with the same frozen set: compare (numel, trainable)
// signatures through max/min reductions, and name the first mismatching parameter.
void verify_same_parameters(const std::vector<torch::Tensor>& all, const Context& ctx) {
  const int64_t n = static_cast<int64_t>(all.size());
  torch::Tensor count = torch::tensor({n, -n}, torch::kInt64);
  all_reduce_(count, ctx, ReduceOp::Max);
  GTGM_CHECK(count[0].item<int64_t>() == -count[1].item<int64_t>(),
             "Reducer: the ranks hold different numbers of parameters (between {} and {}; this rank {})",
             -count[1].item<int64_t>(), count[0].item<int64_t>(), n);
  if (n == 0) return;
  torch::Tensor sig = torch::empty({2 * n}, torch::kInt64);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t v = all[i].numel() * 2 + (all[i].requires_grad() ? 1 : 0);
    sig[i] = v;
    sig[n + i] = -v;
  }
  all_reduce_(sig, ctx, ReduceOp::Max);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t hi = sig[i].item<int64_t>(), lo = -sig[n + i].item<int64_t>();
    GTGM_CHECK(hi == lo,
               "Reducer: parameter #{} (shape {}, {}) differs across ranks: its size or requires_grad is not the same "
               "on every rank (freeze the same parameters everywhere)",
               i, all[i].sizes(), all[i].requires_grad() ? "trainable" : "frozen");
  }
}

}  // namespace

static void build(Reducer::State& s, const std::shared_ptr<Reducer::State>& self, double bucket_mb) {
  GTGM_CHECK(bucket_mb > 0, "Reducer: dist.bucket_mb must be > 0, got {}", bucket_mb);
  const int64_t cap = static_cast<int64_t>(bucket_mb * 1024.0 * 1024.0);
  // Reverse registration order: the order gradients become ready in backward.
  Reducer::State::Bucket current;
  int64_t bytes = 0;
  auto close = [&]() {
    if (current.members.empty()) return;
    const torch::Tensor& first = s.params[current.members.front()];
    int64_t numel = 0;
    for (std::size_t slot = 0; slot < current.members.size(); ++slot) {
      current.offsets.push_back(numel);
      numel += s.params[current.members[slot]].numel();
    }
    current.flat = torch::zeros({numel}, first.options().requires_grad(false));
    current.pending = current.members.size();
    s.buckets.push_back(std::move(current));
    current = Reducer::State::Bucket();
    bytes = 0;
  };
  for (std::size_t k = s.params.size(); k-- > 0;) {
    const torch::Tensor& p = s.params[k];
    if (!current.members.empty()) {
      const torch::Tensor& prev = s.params[current.members.back()];
      if (prev.scalar_type() != p.scalar_type() || prev.device() != p.device() ||
          bytes + static_cast<int64_t>(p.nbytes()) > cap)
        close();
    }
    current.members.push_back(k);
    bytes += static_cast<int64_t>(p.nbytes());
  }
  close();
  s.where.resize(s.params.size());
  for (std::size_t b = 0; b < s.buckets.size(); ++b) {
    for (std::size_t slot = 0; slot < s.buckets[b].members.size(); ++slot)
      s.where[s.buckets[b].members[slot]] = {b, slot};
  }
  s.ready.assign(s.params.size(), 0);
  s.hooked.assign(s.params.size(), 0);
  if (s.mode == ReduceMode::Bucketed) {
    for (std::size_t i = 0; i < s.params.size(); ++i) {
      auto acc = torch::autograd::impl::grad_accumulator(s.params[i]);
      GTGM_CHECK(acc != nullptr, "Reducer: parameter #{} (shape {}) is not a leaf tensor", i, s.params[i].sizes());
      acc->add_post_hook(std::make_unique<GradReadyHook>(self, i));
      s.accumulators.push_back(std::move(acc));
    }
  }
}

static std::shared_ptr<Reducer::State> make_state(const std::vector<torch::Tensor>& all, Context ctx, double bucket_mb,
                                                  ReduceMode mode) {
  auto s = std::make_shared<Reducer::State>();
  s->ctx = std::move(ctx);
  s->mode = mode;
  for (const auto& p : all) {
    GTGM_CHECK(p.defined(), "Reducer: undefined parameter tensor");
    if (p.requires_grad()) s->params.push_back(p);
  }
  if (!s->ctx.distributed()) return s;
  for (const auto& p : s->params) {
    GTGM_CHECK(p.device() == s->ctx.device() || s->ctx.backend() == "gloo",
               "Reducer: a parameter lives on {} but this rank computes on {}", p.device(), s->ctx.device());
    GTGM_CHECK(s->ctx.backend() != "gloo" || !p.is_cuda(),
               "Reducer: CUDA parameters need the nccl backend (dist.backend), got gloo");
  }
  verify_same_parameters(all, s->ctx);
  build(*s, s, bucket_mb);
  return s;
}

Reducer::Reducer(std::vector<torch::Tensor> params, Context ctx, double bucket_mb, ReduceMode mode) {
  if (ctx.distributed()) {
    torch::NoGradGuard no_grad;
    for (auto& p : params) broadcast_(p, ctx, 0);
  }
  state_ = make_state(params, std::move(ctx), bucket_mb, mode);
}

Reducer::Reducer(torch::nn::Module& module, Context ctx, double bucket_mb, ReduceMode mode) {
  broadcast_module(module, ctx);
  state_ = make_state(module.parameters(), std::move(ctx), bucket_mb, mode);
}

Reducer::~Reducer() = default;

void Reducer::prepare_backward() {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.sync) return;
  GTGM_CHECK(!s.dirty,
             "Reducer: the previous synced backward was not finished; call finish() after backward and before the "
             "optimiser step");
  s.reset();
}

void Reducer::prepare_backward(const std::vector<torch::Tensor>& outputs) {
  prepare_backward();
  State& s = *state_;
  if (!s.sync || !s.ctx.distributed() || s.mode != ReduceMode::Bucketed) return;
  // Every autograd node reachable from the outputs; a parameter whose gradient accumulator is not
  // among them gets no gradient in this backward.
  std::unordered_set<const torch::autograd::Node*> seen;
  std::vector<torch::autograd::Node*> stack;
  for (const auto& out : outputs) {
    if (!out.defined()) continue;
    torch::autograd::Node* root =
        out.grad_fn() ? out.grad_fn().get() : torch::autograd::impl::try_get_grad_accumulator(out).get();
    if (root != nullptr && seen.insert(root).second) stack.push_back(root);
  }
  while (!stack.empty()) {
    torch::autograd::Node* node = stack.back();
    stack.pop_back();
    for (const auto& edge : node->next_edges()) {
      if (edge.function && seen.insert(edge.function.get()).second) stack.push_back(edge.function.get());
    }
  }
  std::lock_guard<std::mutex> lock(s.mutex);
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < s.params.size(); ++i) {
    if (!seen.count(s.accumulators[i].get())) s.set_ready(i, true);
  }
}

void Reducer::finish() {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.sync || !s.ctx.distributed()) return;
  ProcessGroup& pg = *s.ctx.group();
  const int world = s.ctx.world_size();

  torch::NoGradGuard no_grad;
  if (s.mode == ReduceMode::PerParameter) {
    // Which parameters any rank used; then one blocking collective per used parameter, in
    // registration order on every rank.
    torch::Tensor used = torch::zeros({static_cast<int64_t>(s.params.size())}, torch::kFloat32);
    {
      auto a = used.accessor<float, 1>();
      for (std::size_t i = 0; i < s.params.size(); ++i) a[i] = s.params[i].grad().defined() ? 1.f : 0.f;
    }
    all_reduce_(used, s.ctx, ReduceOp::Max);
    const auto used_a = used.accessor<float, 1>();
    for (std::size_t i = 0; i < s.params.size(); ++i) {
      if (used_a[i] == 0.f) continue;
      torch::Tensor& p = s.params[i];
      torch::Tensor buf = p.grad().defined() ? p.grad().contiguous() : torch::zeros_like(p);
      std::vector<at::Tensor> tensors{buf};
      pg.allreduce(tensors, ReduceOp::Sum).wait();
      buf.div_(world);
      if (p.grad().defined()) {
        if (!buf.is_same(p.grad())) p.mutable_grad().copy_(buf);
      } else {
        p.mutable_grad() = buf;
      }
    }
    return;
  }

  // Buckets that backward did not complete: fill what is missing (an accumulated gradient from
  // earlier micro-steps, else zeros) and launch, still in bucket order.
  torch::Tensor used = torch::zeros({static_cast<int64_t>(s.params.size())}, torch::kFloat32);
  auto used_a = used.accessor<float, 1>();
  for (std::size_t i = 0; i < s.params.size(); ++i) {
    if (!s.ready[i]) s.fill_slot(i);
    used_a[i] = (s.hooked[i] || s.params[i].grad().defined()) ? 1.f : 0.f;
  }
  for (auto& bucket : s.buckets) bucket.pending = 0;
  s.launch_ready(false);
  // Which parameters no rank used: they keep an undefined gradient, as in one process.
  torch::Tensor used_comm = used.to(s.ctx.comm_device());
  std::vector<at::Tensor> used_list{used_comm};
  Work used_work = pg.allreduce(used_list, ReduceOp::Max);
  for (auto& bucket : s.buckets) bucket.work.wait();
  used_work.wait();
  used = used_comm.to(torch::kCPU);
  used_a = used.accessor<float, 1>();
  for (std::size_t i = 0; i < s.params.size(); ++i) {
    if (used_a[i] == 0.f) continue;
    // The averaged gradient is in the slot; the parameter's gradient becomes a view of it (as
    // DDP's gradient_as_bucket_view), so later steps accumulate straight into the bucket.
    if (!s.grad_is_slot(i)) s.params[i].mutable_grad() = s.slot_alias(i);
  }
  s.reset();
}

Reducer::NoSyncGuard::NoSyncGuard(Reducer& reducer) : reducer_(reducer) {
  std::lock_guard<std::mutex> lock(reducer_.state_->mutex);
  previous_ = reducer_.state_->sync;
  reducer_.state_->sync = false;
}

Reducer::NoSyncGuard::~NoSyncGuard() {
  std::lock_guard<std::mutex> lock(reducer_.state_->mutex);
  reducer_.state_->sync = previous_;
}

bool Reducer::sync_enabled() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->sync;
}

std::vector<int64_t> Reducer::bucket_bytes() const {
  std::vector<int64_t> out;
  for (const auto& b : state_->buckets) out.push_back(b.flat.nbytes());
  return out;
}

int64_t Reducer::buckets_overlapped() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->last_launched_early;
}

const Context& Reducer::context() const { return state_->ctx; }

}  // namespace gtgm::dist
