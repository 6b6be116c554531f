#pragma once
// The Admin API key, read from the file --reconcile.admin-key-file names (trailing
// whitespace trimmed). Start-up only: throws std::runtime_error naming the flag and
// file, never the key. Nothing else in the exporter holds or logs it.
#include <string>

namespace llmcost {

std::string ReadAdminKeyFile(const std::string& path);

}  // namespace llmcost
