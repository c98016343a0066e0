// Push with the real stack (see push_steps.h) and a password that only a
// PassCmd knows: after a run with push and syncs, the password is nowhere
// the plugin writes or shows things (SPEC §10: passwords stay in memory).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include "tests/mail/mail_stack_steps.h"
#include "tests/mail/push_steps.h"

namespace himalaya::mail {
namespace {

using testing::wait_until;

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_all(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

std::string random_password() {
  std::random_device device;
  std::mt19937_64 random(device());
  const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string out = "pw";
  for (int i = 0; i < 22; ++i) {
    out += digits[random() % 36];
  }
  return out;
}

// Where the password must not be: one place's name and its text.
struct Place {
  std::string name;
  std::string text;
};

// The server's password is changed to a fresh random one and the fleet's
// mbsyncrc gives it only through `PassCmd "echo <password>"`. 3 Neovims with
// push: the watcher idles (it logged in with the PassCmd's password, as every
// mbsync run does: no other password works), one delivery comes by push and
// one sync is asked for by hand. Then the password is searched in every host
// log, the state file, each instance's :HimalayaSyncStatus lines, status
// JSON, notifications and :messages, and the primary's :checkhealth output:
// it is in none of them. The search itself is checked on the mbsyncrc, which
// holds the password.
TEST(MailPush, PassCmdPasswordIsNeverLoggedStoredOrShown) {
  START_SERVER(server);
  const std::string password = random_password();
  // Dovecot re-reads its passwd-file when it changes.
  write_all(server.dir() / "passwd", "alice:{PLAIN}" + password + "::::::\n");
  std::string rc = read_all(server.mbsyncrc());
  const std::string pass_line = "Pass secret\n";
  const std::size_t at = rc.find(pass_line);
  ASSERT_NE(at, std::string::npos) << rc;
  rc.replace(at, pass_line.size(), "PassCmd \"echo " + password + "\"\n");
  const std::filesystem::path rc_file = server.dir() / "mbsyncrc-passcmd";
  write_all(rc_file, rc);

  Fleet fleet;
  ASSERT_TRUE(fleet.start(3, rc_file.string(), push_options()));
  std::optional<std::size_t> primary;
  ASSERT_TRUE(wait_until([&] { return (primary = fleet.primary()).has_value(); }, 10s));
  ASSERT_TRUE(wait_idling(fleet, *primary, 15s))
      << "push state " << push_field(fleet, *primary, "state") << " ("
      << push_field(fleet, *primary, "why") << ")\n"
      << fleet.log_tails();
  auto took = deliver_and_wait(server, unique_subject("secret push"), 5s);
  ASSERT_TRUE(took.has_value()) << "no push sync with the PassCmd password\n" << fleet.log_tails();
  // One sync asked for by hand: sync_now() is skipped while another sync
  // runs (the push sync may follow the first sync by min_gap), so ask again
  // until the primary's log says a manual sync started.
  const std::string manual = "manual sync started (pid";
  ASSERT_TRUE(wait_until(
      [&] {
        if (read_all(fleet.log_file(*primary)).find(manual) != std::string::npos) {
          return true;
        }
        fleet.nvim(*primary).lua("require('himalaya_coord').sync_now()");
        return false;
      },
      20s, 200ms))
      << "no manual sync started\n"
      << fleet.log_tails();
  // Until that sync is over: the watcher's is then the one open session.
  EXPECT_TRUE(wait_until([&] { return open_sessions(server).size() == 1; }, 10s))
      << describe(server.sessions());

  std::vector<Place> places;
  for (std::size_t i = 0; i < fleet.size(); ++i) {
    const std::string n = "instance " + std::to_string(i) + " ";
    places.push_back({n + "host log", read_all(fleet.log_file(i))});
    places.push_back({n + ":HimalayaSyncStatus",
                      fleet.nvim(i).lua_string("return table.concat(require('himalaya_coord')"
                                               ".status_lines(2000) or {}, '\\n')")});
    places.push_back(
        {n + "status JSON",
         fleet.nvim(i).lua_string(
             "return vim.fn.json_encode(require('himalaya_coord').status(2000) or {})")});
    places.push_back({n + "notifications", notes_of(fleet, i)});
    places.push_back(
        {n + ":messages", fleet.nvim(i).lua_string("return vim.fn.execute('messages')")});
  }
  places.push_back({"state file", read_all(fleet.state_file())});
  // checkhealth logs in once more (push_check), bounded by its own deadline.
  places.push_back({":checkhealth",
                    fleet.nvim(*primary).lua_string(
                        "vim.cmd('checkhealth himalaya_coord') "
                        "return table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\\n')",
                        60s)});

  ASSERT_NE(read_all(rc_file).find(password), std::string::npos)
      << "the search does not find the password where it is";
  std::size_t searched = 0;
  for (const Place& place : places) {
    searched += place.text.size();
    EXPECT_EQ(place.text.find(password), std::string::npos)
        << "the password is in the " << place.name << ":\n"
        << place.text;
  }
  std::printf("searched %zu places, %zu bytes, for the password\n", places.size(), searched);
  EXPECT_GT(places.back().text.size(), 0u) << "no :checkhealth output to search";
}

}  // namespace
}  // namespace himalaya::mail
