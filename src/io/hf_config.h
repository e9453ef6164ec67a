// Read-only access to a JSON document (HF config.json) by dotted path ("text_config.hidden_size").
// Keeps nlohmann_json out of every header.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "util/status.h"

namespace gemma12b {

class JsonConfig {
 public:
  static StatusOr<std::unique_ptr<JsonConfig>> parse(const std::string& text);
  static StatusOr<std::unique_ptr<JsonConfig>> load(const std::string& path);
  ~JsonConfig();

  bool has(const std::string& path) const;  // present and not null
  StatusOr<int64_t> get_int(const std::string& path) const;
  StatusOr<double> get_float(const std::string& path) const;
  StatusOr<bool> get_bool(const std::string& path) const;
  StatusOr<std::string> get_string(const std::string& path) const;
  // Accepts an array of integers or a single integer (returned as one element).
  StatusOr<std::vector<int64_t>> get_int_array(const std::string& path) const;
  StatusOr<std::vector<std::string>> get_string_array(const std::string& path) const;

 private:
  JsonConfig();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads a whole text file (NotFound / Internal naming the path).
StatusOr<std::string> read_text_file(const std::string& path);

}  // namespace gemma12b
