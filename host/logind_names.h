// Names in logind's D-Bus API that are shown to people (host/logind_session.h).
#pragma once

#include <string>

namespace himalaya::host {

// The last part of a session's object path, unescaped enough to read: logind
// names sessions "/org/freedesktop/login1/session/_32" for session "2".
std::string logind_session_name(const std::string& path);

}  // namespace himalaya::host
