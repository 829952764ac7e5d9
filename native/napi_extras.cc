#include "napi_extras.h"

namespace ntpd {

uv_loop_t* UvLoop(Napi::Env env) {
  uv_loop_t* loop = nullptr;
  NAPI_THROW_IF_FAILED(env, napi_get_uv_event_loop(env, &loop), nullptr);
  return loop;
}

Napi::String Latin1String(Napi::Env env, const char* text, size_t length) {
  napi_value value;
  NAPI_THROW_IF_FAILED(env, napi_create_string_latin1(env, text, length, &value),
                       Napi::String());
  return Napi::String(env, value);
}

TypedArrayView ViewTypedArray(Napi::Value value) {
  TypedArrayView view;
  if (value.IsEmpty() ||
      napi_get_typedarray_info(value.Env(), value, &view.type, &view.length, &view.data,
                               nullptr, nullptr) != napi_ok) {
    return TypedArrayView();
  }
  return view;
}

void ReportUncaught(const Napi::Error& error) {
  napi_fatal_exception(error.Env(), error.Value());
}

CallbackScope::CallbackScope(Napi::Object resource,
                             const std::optional<Napi::AsyncContext>& context)
    : env_(resource.Env()) {
  if (!context.has_value() ||
      napi_open_callback_scope(env_, resource, *context, &scope_) != napi_ok) {
    scope_ = nullptr;
  }
}

CallbackScope::~CallbackScope() {
  if (scope_ != nullptr) napi_close_callback_scope(env_, scope_);
}

}  // namespace ntpd
