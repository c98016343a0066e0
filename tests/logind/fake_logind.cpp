// fake-logind: a stand-in org.freedesktop.login1 for the tests of
// host/logind_session.h, on a private dbus-daemon the test starts.
//
//   fake-logind --address ADDR --uid UID [--pid-session] [--no-display]
//
// It owns org.freedesktop.login1 and exports what the reader calls:
// - Manager.GetSessionByPID(u) -> o: session "2" with --pid-session, else the
//   error org.freedesktop.login1.NoSessionForPID, as for a process outside
//   any session;
// - Manager.GetUser(u) -> o: the user UID (NoSuchUser for any other);
// - User.Display (so): ("2", session "2"), or ("", "/") with --no-display;
// - Session "2" (/org/freedesktop/login1/session/_32) with IdleHint and
//   LockedHint (false at start; they emit PropertiesChanged) and Id.
// The test flips a hint with org.himalaya.FakeLogind.Set(s name, b value,
// b signal) on /org/himalaya/FakeLogind: with signal false the value changes
// without a PropertiesChanged (as a text session's IdleHint does).
//
// It prints "ready" on stdout once it owns the name, and runs until killed
// or the bus closes.
#include <systemd/sd-bus.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

constexpr const char* kSessionPath = "/org/freedesktop/login1/session/_32";

struct World {
  std::uint32_t uid = 0;
  bool pid_session = false;
  bool display = true;
  int idle = 0;
  int locked = 0;
  std::string user_path;
};

World world;

int get_session_by_pid(sd_bus_message* m, void*, sd_bus_error* error) {
  std::uint32_t pid = 0;
  const int r = sd_bus_message_read(m, "u", &pid);
  if (r < 0)
    return r;
  if (!world.pid_session) {
    return sd_bus_error_setf(error, "org.freedesktop.login1.NoSessionForPID",
                             "PID %u does not belong to any known session", pid);
  }
  return sd_bus_reply_method_return(m, "o", kSessionPath);
}

int get_user(sd_bus_message* m, void*, sd_bus_error* error) {
  std::uint32_t uid = 0;
  const int r = sd_bus_message_read(m, "u", &uid);
  if (r < 0)
    return r;
  if (uid != world.uid) {
    return sd_bus_error_setf(error, "org.freedesktop.login1.NoSuchUser",
                             "User ID %u is not logged in", uid);
  }
  return sd_bus_reply_method_return(m, "o", world.user_path.c_str());
}

int user_display(sd_bus*, const char*, const char*, const char*, sd_bus_message* reply, void*,
                 sd_bus_error*) {
  if (!world.display) {
    return sd_bus_message_append(reply, "(so)", "", "/");
  }
  return sd_bus_message_append(reply, "(so)", "2", kSessionPath);
}

int session_bool(sd_bus*, const char*, const char*, const char* property, sd_bus_message* reply,
                 void*, sd_bus_error*) {
  const int value = std::strcmp(property, "IdleHint") == 0 ? world.idle : world.locked;
  return sd_bus_message_append(reply, "b", value);
}

int set_hint(sd_bus_message* m, void*, sd_bus_error* error) {
  const char* name = nullptr;
  int value = 0;
  int signal = 0;
  int r = sd_bus_message_read(m, "sbb", &name, &value, &signal);
  if (r < 0)
    return r;
  if (std::strcmp(name, "IdleHint") == 0) {
    world.idle = value;
  } else if (std::strcmp(name, "LockedHint") == 0) {
    world.locked = value;
  } else {
    return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "no hint %s", name);
  }
  if (signal) {
    r = sd_bus_emit_properties_changed(sd_bus_message_get_bus(m), kSessionPath,
                                       "org.freedesktop.login1.Session", name, nullptr);
    if (r < 0)
      return r;
  }
  return sd_bus_reply_method_return(m, "");
}

const sd_bus_vtable manager_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("GetSessionByPID", "u", "o", get_session_by_pid, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD("GetUser", "u", "o", get_user, SD_BUS_VTABLE_UNPRIVILEGED), SD_BUS_VTABLE_END};

const sd_bus_vtable user_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Display", "(so)", user_display, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_VTABLE_END};

const sd_bus_vtable session_vtable[] = {
    SD_BUS_VTABLE_START(0), SD_BUS_PROPERTY("Id", "s", nullptr, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("IdleHint", "b", session_bool, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("LockedHint", "b", session_bool, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_VTABLE_END};

const sd_bus_vtable control_vtable[] = {
    SD_BUS_VTABLE_START(0), SD_BUS_METHOD("Set", "sbb", "", set_hint, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END};

int die(const char* what, int r) {
  std::fprintf(stderr, "fake-logind: %s: %s\n", what, std::strerror(-r));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string address;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--address" && i + 1 < argc) {
      address = argv[++i];
    } else if (arg == "--uid" && i + 1 < argc) {
      world.uid = static_cast<std::uint32_t>(std::strtoul(argv[++i], nullptr, 10));
    } else if (arg == "--pid-session") {
      world.pid_session = true;
    } else if (arg == "--no-display") {
      world.display = false;
    } else {
      std::fprintf(stderr, "fake-logind: unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  world.user_path = "/org/freedesktop/login1/user/_" + std::to_string(world.uid);
  static char session_id[] = "2";
  static char* session_id_ptr = session_id;

  sd_bus* bus = nullptr;
  int r = sd_bus_new(&bus);
  if (r >= 0)
    r = sd_bus_set_address(bus, address.c_str());
  if (r >= 0)
    r = sd_bus_set_bus_client(bus, 1);
  if (r >= 0)
    r = sd_bus_start(bus);
  if (r < 0)
    return die("connecting", r);
  r = sd_bus_add_object_vtable(bus, nullptr, "/org/freedesktop/login1",
                               "org.freedesktop.login1.Manager", manager_vtable, nullptr);
  if (r >= 0) {
    r = sd_bus_add_object_vtable(bus, nullptr, world.user_path.c_str(),
                                 "org.freedesktop.login1.User", user_vtable, nullptr);
  }
  if (r >= 0) {
    // Id is read from the object's data: a char* at offset 0 of userdata.
    r = sd_bus_add_object_vtable(bus, nullptr, kSessionPath, "org.freedesktop.login1.Session",
                                 session_vtable, &session_id_ptr);
  }
  if (r >= 0) {
    r = sd_bus_add_object_vtable(bus, nullptr, "/org/himalaya/FakeLogind",
                                 "org.himalaya.FakeLogind", control_vtable, nullptr);
  }
  if (r < 0)
    return die("exporting objects", r);
  r = sd_bus_request_name(bus, "org.freedesktop.login1", 0);
  if (r < 0)
    return die("owning org.freedesktop.login1", r);
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) {
    r = sd_bus_process(bus, nullptr);
    if (r < 0)
      return die("processing", r);
    if (r > 0)
      continue;
    r = sd_bus_wait(bus, UINT64_MAX);
    if (r < 0 && r != -EINTR)
      return die("waiting", r);
  }
}
