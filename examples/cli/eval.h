// `gemma12b-cli eval` and `compare`: run a case in the golden-data format and check it.
#pragma once

#include <map>
#include <string>

// Returns the process exit code.
int run_eval(const std::string& command, const std::map<std::string, std::string>& values);
