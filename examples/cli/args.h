// gemma12b-cli's argument parsing: `--key value` options, boolean flags, and the media inputs
// (--image/--audio/--video may repeat; their order on the command line is kept).
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdint>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"

// Prints "gemma12b-cli: MSG" to stderr; returns the exit code 1.
inline int fail(const std::string& msg) {
  std::fprintf(stderr, "gemma12b-cli: %s\n", msg.c_str());
  return 1;
}

struct Args {
  std::string command;
  std::map<std::string, std::string> values;
  std::map<std::string, bool> flags;
  std::vector<std::pair<std::string, std::string>> media;  // ("--image" | "--audio" | "--video", path)
};

inline bool parse_args(int argc, char** argv, Args* a, std::string* err) {
  static const std::map<std::string, std::string> kAlias = {
      {"-m", "--model"}, {"-t", "--threads"}, {"-n", "--n-predict"}, {"-c", "--ctx"}, {"-p", "--prompt"}};
  static const std::vector<std::string> kFlags = {"--greedy", "--chat", "--no-bos", "--special", "--think",
                                                  "--video-audio"};
  if (argc < 2) {
    *err = "missing command";
    return false;
  }
  a->command = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string k = argv[i];
    if (kAlias.count(k)) k = kAlias.at(k);
    if (std::find(kFlags.begin(), kFlags.end(), k) != kFlags.end()) {
      a->flags[k] = true;
      continue;
    }
    if (k.rfind("--", 0) != 0 || i + 1 >= argc) {
      *err = "unexpected argument '" + k + "'";
      return false;
    }
    if (k == "--image" || k == "--audio" || k == "--video") {
      a->media.emplace_back(k, argv[++i]);
      continue;
    }
    a->values[k] = argv[++i];
  }
  return true;
}

template <typename T>
bool get_num(const Args& a, const std::string& key, T* out, std::string* err) {
  auto it = a.values.find(key);
  if (it == a.values.end()) return true;
  bool ok;
  if constexpr (std::is_floating_point_v<T>) {
    double d;
    ok = absl::SimpleAtod(it->second, &d);
    *out = static_cast<T>(d);
  } else {
    int64_t v;
    ok = absl::SimpleAtoi(it->second, &v);
    *out = static_cast<T>(v);
  }
  if (!ok) *err = key + ": '" + it->second + "' is not a number";
  return ok;
}
