#include "support/npy.h"

#include <cstring>
#include <fstream>
#include <sstream>

namespace gemma12b::test {

std::string golden_path(const std::string& relative) {
  return std::string(GEMMA12B_GOLDEN_DIR) + "/" + relative;
}

bool load_npy(const std::string& path, NpyArray* out, std::string* error) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    *error = "cannot open " + path;
    return false;
  }
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) {
    *error = "not a .npy file: " + path;
    return false;
  }
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0, pos = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    pos = 10;
  } else {
    uint32_t n;
    std::memcpy(&n, bytes.data() + 8, 4);
    header_len = n;
    pos = 12;
  }
  if (pos + header_len > bytes.size()) {
    *error = "truncated header: " + path;
    return false;
  }
  const std::string header = bytes.substr(pos, header_len);
  pos += header_len;
  auto field = [&](const std::string& key) {
    size_t k = header.find("'" + key + "'");
    return k == std::string::npos ? std::string() : header.substr(header.find(':', k) + 1);
  };
  std::string descr = field("descr");
  descr = descr.substr(descr.find('\'') + 1);
  descr = descr.substr(0, descr.find('\''));
  if (field("fortran_order").find("True") < 6) {
    *error = "fortran order unsupported: " + path;
    return false;
  }
  std::string shape = field("shape");
  shape = shape.substr(shape.find('(') + 1, shape.find(')') - shape.find('(') - 1);
  out->shape.clear();
  std::stringstream ss(shape);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.find_first_not_of(" ") != std::string::npos) out->shape.push_back(std::stoll(item));
  }
  int64_t n = 1;
  for (int64_t d : out->shape) n *= d;
  size_t elem = descr == "<f4" || descr == "<i4" ? 4 : descr == "<i8" || descr == "<f8" ? 8 : 0;
  if (elem == 0) {
    *error = "unsupported dtype " + descr + ": " + path;
    return false;
  }
  if (pos + n * elem > bytes.size()) {
    *error = "truncated data: " + path;
    return false;
  }
  out->data.resize(n);
  const char* p = bytes.data() + pos;
  for (int64_t i = 0; i < n; ++i) {
    if (descr == "<f4") {
      std::memcpy(&out->data[i], p + 4 * i, 4);
    } else if (descr == "<i4") {
      int32_t v;
      std::memcpy(&v, p + 4 * i, 4);
      out->data[i] = static_cast<float>(v);
    } else if (descr == "<i8") {
      int64_t v;
      std::memcpy(&v, p + 8 * i, 8);
      out->data[i] = static_cast<float>(v);
    } else {
      double v;
      std::memcpy(&v, p + 8 * i, 8);
      out->data[i] = static_cast<float>(v);
    }
  }
  return true;
}

}  // namespace gemma12b::test
