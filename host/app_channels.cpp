// The host's side of channels (sync.channels, SPEC §11): the coordinator says
// which of this instance's channels is due (Events::channel_due); the host
// runs it (ChannelRuns), counts its new messages and records its process and
// end. And where push reports a change, which channels it is for.
#include <spdlog/spdlog.h>

#include "coordinator/coordinator.h"
#include "host/app.h"
#include "host/channel_push.h"
#include "host/channel_runs.h"
#include "host/neovim.h"
#include "host/new_mail.h"
#include "host/sync_runner.h"

namespace himalaya::host {

void App::run_channel(const std::string& channel) {
  if (stopping_ || !coordinator_ || !channel_runs_) {
    return;
  }
  if (runner_->running() || channel_runs_->running()) {
    log_->info("channel {} skipped: this instance is already syncing", channel);
    return;
  }
  const coordinator::Coordinator::SyncGrant grant = coordinator_->begin_channel_sync(channel);
  if (!grant.granted) {
    tell(Level::debug, "channel " + channel + " skipped: " + grant.reason);
    return;
  }
  channel_mail_ = std::make_unique<NewMailCounter>(
      ChannelRuns::command_for(config_.sync.command, config_.sync.push.mbsyncrc, channel),
      config_.sync.push.mbsyncrc, mbsync::process_environment());
  const std::string uncounted = channel_mail_->before_sync();
  if (!uncounted.empty()) {
    log_->debug("new messages of channel {} not counted: {}", channel, uncounted);
  }
  std::string error;
  const bool started = channel_runs_->start(
      channel, [this, channel](const SyncRun& run) { channel_finished(channel, run); }, error);
  if (!started) {
    channel_mail_.reset();  // nothing ran
    coordinator_->end_channel_sync(channel, coordinator::SyncOutcome::failed, error);
    log_->warn("channel {} could not start: {}", channel, error);
    report_failure(error);
    return;
  }
  coordinator_->channel_process_started(channel, channel_runs_->pid());
  tell(Level::debug,
       "channel " + channel + " sync started (pid " + std::to_string(channel_runs_->pid()) + ")");
}

void App::channel_finished(const std::string& channel, const SyncRun& run) {
  const std::optional<int> new_messages =
      channel_mail_ ? channel_mail_->after_sync() : std::nullopt;
  channel_mail_.reset();
  if (coordinator_) {
    coordinator_->end_channel_sync(channel, run.outcome, run.message, new_messages);
  }
  // SPEC §6, per channel: a failure repeating (offline, say) is shown once,
  // and again only after that channel synced or its error changed, so that
  // channels failing in turn do not show it at each run.
  if (run.outcome == coordinator::SyncOutcome::ok) {
    log_->info("channel {} synced in {:.2f} s", channel, run.seconds);
    channel_failure_shown_.erase(channel);
  } else {
    log_->warn("channel {} sync {}: {}; output: {}", channel, to_string(run.outcome), run.message,
               run.output_tail);
    std::string& shown = channel_failure_shown_[channel];
    if (run.outcome != coordinator::SyncOutcome::cancelled &&
        (run.message != shown || config_.debug)) {
      shown = run.message;
      neovim_->notify_user("himalaya-coord: sync of channel " + channel + " failed: " + run.message,
                           Level::warn);
    }
  }
  if (stopping_) {
    finish_shutdown();
  }
}

void App::push_changed(const std::string& account, const std::string& mailbox) {
  if (!coordinator_ || stopping_) {
    return;
  }
  if (config_.sync.channels.specs.empty()) {
    coordinator_->mail_changed();
    return;
  }
  const ChangedChannels changed = channels_for_change(
      config_.sync.command, config_.sync.push.mbsyncrc, config_.sync.channels.specs, account,
      mailbox, mbsync::process_environment());
  if (!changed.problem.empty()) {
    log_->warn("push: which channels cover {} is unknown ({}): syncing them all", mailbox,
               changed.problem);
  }
  coordinator_->mail_changed(changed.names);
}

}  // namespace himalaya::host
