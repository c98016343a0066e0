// run_shell(): the first line of stdout, errors that never carry the output,
// stderr not read, and a command that hangs killed at its timeout without
// blocking the loop.
#include "host/shell_output.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <optional>

#include "tests/support/run_loop.h"

namespace himalaya::host {
namespace {

using std::chrono::milliseconds;

class ShellOutput : public ::testing::Test {
 protected:
  ShellResult run(const std::string& command, milliseconds timeout = milliseconds(5000)) {
    std::optional<ShellResult> result;
    run_shell(io, command, timeout, [&](ShellResult r) { result = std::move(r); });
    EXPECT_FALSE(result) << "the callback runs later, from the loop";
    EXPECT_TRUE(testing::run_until(io, [&] { return result.has_value(); }));
    return result.value_or(ShellResult{});
  }
  boost::asio::io_context io;
};

TEST_F(ShellOutput, KeepsTheFirstLineWithoutItsLineEnd) {
  ShellResult r = run("printf 'first\\r\\nsecond\\n'");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.line, "first");
}

TEST_F(ShellOutput, ANonZeroExitIsAnErrorWithoutTheOutput) {
  ShellResult r = run("echo visible-output; exit 4");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "exited with status 4");
}

TEST_F(ShellOutput, StderrIsNeitherKeptNorTakenForTheAnswer) {
  ShellResult r = run("echo noise >&2; echo answer");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.line, "answer");
}

TEST_F(ShellOutput, PrintingNothingIsAnError) {
  ShellResult r = run("true");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "printed nothing");
}

TEST_F(ShellOutput, AHangingCommandIsKilledAtItsTimeout) {
  const auto start = std::chrono::steady_clock::now();
  ShellResult r = run("echo partial; exec sleep 60", milliseconds(300));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "timed out after 0.3 s");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace himalaya::host
