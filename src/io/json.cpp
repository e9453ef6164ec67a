#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "io/hf_config.h"

namespace gemma12b {

namespace json_detail {
struct State {
  nlohmann::json root;
};
}  // namespace json_detail

struct JsonConfig::Impl : json_detail::State {};

namespace {

using Json = nlohmann::json;

const char* kind(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::object: return "an object";
    case Json::value_t::array: return "an array";
    case Json::value_t::string: return "a string";
    case Json::value_t::boolean: return "a bool";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "an integer";
    case Json::value_t::number_float: return "a float";
    default: return "an unsupported value";
  }
}

bool all_digits(std::string_view s) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Walks a dotted path ("a.b.c"; an all-digit segment also indexes an array). Null counts as
// missing.
StatusOr<const Json*> lookup(const Json& root, const std::string& path) {
  const Json* cur = &root;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string_view seg =
        std::string_view(path).substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const std::string_view prefix = std::string_view(path).substr(0, dot);
    if (cur->is_object()) {
      auto it = cur->find(std::string(seg));
      if (it == cur->end()) return NotFound("config key '%s' not found (no '%s')", path, prefix);
      cur = &*it;
    } else if (cur->is_array() && all_digits(seg)) {
      const size_t i = static_cast<size_t>(std::stoul(std::string(seg)));
      if (i >= cur->size()) return NotFound("config key '%s' not found (index out of range)", path);
      cur = &(*cur)[i];
    } else {
      return NotFound("config key '%s' not found ('%s' is %s)", path,
                      std::string_view(path).substr(0, start == 0 ? 0 : start - 1), kind(*cur));
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (cur->is_null()) return NotFound("config key '%s' is null", path);
  return cur;
}

bool as_int(const Json& j, int64_t* out) {
  if (j.is_number_unsigned()) {
    const uint64_t v = j.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(v);
    return true;
  }
  if (j.is_number_integer()) {
    *out = j.get<int64_t>();
    return true;
  }
  if (j.is_number_float()) {
    const double d = j.get<double>();
    // Integral floats (e.g. 6.0) in the int64 range.
    if (!std::isfinite(d) || d != std::floor(d) || d < -9.2233720368547758e18 || d >= 9.2233720368547758e18) {
      return false;
    }
    *out = static_cast<int64_t>(d);
    return true;
  }
  return false;
}

Status wrong(const std::string& path, const Json& j, const char* expected) {
  return InvalidArgument("config key '%s' is %s, expected %s", path, kind(j), expected);
}

// Runs f, turning any exception (nlohmann type errors, bad_alloc) into a Status.
template <typename F>
auto guarded(const std::string& path, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return Internal("config key '%s': %s", path, e.what());
  }
}

}  // namespace

JsonConfig::JsonConfig() = default;
JsonConfig::~JsonConfig() = default;

StatusOr<std::unique_ptr<JsonConfig>> JsonConfig::parse(const std::string& text) {
  try {
    Json root = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (root.is_discarded()) return InvalidArgument("malformed JSON (%d bytes)", text.size());
    std::unique_ptr<JsonConfig> c(new JsonConfig());
    c->impl_ = std::make_unique<Impl>();
    c->impl_->root = std::move(root);
    return c;
  } catch (const std::exception& e) {
    return Internal("JSON parse failed: %s", e.what());
  }
}

StatusOr<std::unique_ptr<JsonConfig>> JsonConfig::load(const std::string& path) {
  G12_ASSIGN_OR_RETURN(std::string text, read_text_file(path));
  auto c = parse(text);
  if (!c.ok()) return Status(c.status().code(), absl::StrCat(path, ": ", c.status().message()));
  return c;
}

bool JsonConfig::has(const std::string& path) const {
  try {
    return lookup(impl_->root, path).ok();
  } catch (const std::exception&) {
    return false;
  }
}

StatusOr<int64_t> JsonConfig::get_int(const std::string& path) const {
  return guarded(path, [&]() -> StatusOr<int64_t> {
    G12_ASSIGN_OR_RETURN(const Json* j, lookup(impl_->root, path));
    int64_t v = 0;
    if (!as_int(*j, &v)) return wrong(path, *j, "an integer");
    return v;
  });
}

StatusOr<double> JsonConfig::get_float(const std::string& path) const {
  return guarded(path, [&]() -> StatusOr<double> {
    G12_ASSIGN_OR_RETURN(const Json* j, lookup(impl_->root, path));
    if (!j->is_number()) return wrong(path, *j, "a number");
    return j->get<double>();
  });
}

StatusOr<bool> JsonConfig::get_bool(const std::string& path) const {
  return guarded(path, [&]() -> StatusOr<bool> {
    G12_ASSIGN_OR_RETURN(const Json* j, lookup(impl_->root, path));
    if (!j->is_boolean()) return wrong(path, *j, "a bool");
    return j->get<bool>();
  });
}

StatusOr<std::string> JsonConfig::get_string(const std::string& path) const {
  return guarded(path, [&]() -> StatusOr<std::string> {
    G12_ASSIGN_OR_RETURN(const Json* j, lookup(impl_->root, path));
    if (!j->is_string()) return wrong(path, *j, "a string");
    return j->get<std::string>();
  });
}

StatusOr<std::vector<int64_t>> JsonConfig::get_int_array(const std::string& path) const {
  return guarded(path, [&]() -> StatusOr<std::vector<int64_t>> {
    G12_ASSIGN_OR_RETURN(const Json* j, lookup(impl_->root, path));
    std::vector<int64_t> out;
    if (!j->is_array()) {
      int64_t v = 0;
      if (!as_int(*j, &v)) return wrong(path, *j, "an integer or an array of integers");
      out.push_back(v);
      return out;
    }
    out.reserve(j->size());
    for (size_t i = 0; i < j->size(); ++i) {
      int64_t v = 0;
      if (!as_int((*j)[i], &v)) {
        return InvalidArgument("config key '%s': element %d is %s, expected an integer", path, i,
                               kind((*j)[i]));
      }
      out.push_back(v);
    }
    return out;
  });
}

StatusOr<std::vector<std::string>> JsonConfig::get_string_array(const std::string& path) const {
  return guarded(path, [&]() -> StatusOr<std::vector<std::string>> {
    G12_ASSIGN_OR_RETURN(const Json* j, lookup(impl_->root, path));
    if (!j->is_array()) return wrong(path, *j, "an array of strings");
    std::vector<std::string> out;
    out.reserve(j->size());
    for (size_t i = 0; i < j->size(); ++i) {
      if (!(*j)[i].is_string()) {
        return InvalidArgument("config key '%s': element %d is %s, expected a string", path, i,
                               kind((*j)[i]));
      }
      out.push_back((*j)[i].get<std::string>());
    }
    return out;
  });
}

StatusOr<std::string> read_text_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return NotFound("%s: no such file", path);
    return Internal("%s: cannot open: %s", path, std::strerror(err));
  }
  std::string text;
  char buf[1 << 16];
  while (true) {
    const size_t n = std::fread(buf, 1, sizeof(buf), f);
    text.append(buf, n);
    if (n < sizeof(buf)) break;
  }
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) return Internal("%s: read error: %s", path, std::strerror(err));
  return text;
}

}  // namespace gemma12b
