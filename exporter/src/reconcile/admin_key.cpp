#include "reconcile/admin_key.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace llmcost {

std::string ReadAdminKeyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("--reconcile.admin-key-file: " + path + ": cannot open");
  std::ostringstream s;
  s << in.rdbuf();
  std::string key = s.str();
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ' || key.back() == '\t')) key.pop_back();
  if (key.empty()) throw std::runtime_error("--reconcile.admin-key-file: " + path + ": empty");
  for (unsigned char c : key) {
    if (c < 0x21 || c > 0x7e) throw std::runtime_error("--reconcile.admin-key-file: " + path + ": not a single-line key");
  }
  return key;
}

}  // namespace llmcost
