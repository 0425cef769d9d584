-- Argo CD action discovery for modeldeploy.io/ModelDeployment: which actions the operator would
-- accept now. Each action writes a request to the modeldeploy.io/request annotation, as
-- `kubectl modeldeploy <action>` does; the operator records its answer in status.lastRequest.
--
-- Argo CD runs it with only the base, table and os (time and date) libraries, on Lua 5.1.

local actions = {}

local status = obj.status or {}
local rollout = status.rollout

-- The stage of the rollout in progress, if any (Steps when the operator did not write one).
local stage = nil
if rollout ~= nil then
  stage = rollout.stage or "Steps"
end

-- While traffic returns to the stable revision, the operator refuses every request.
local returning = status.phase == "RollingBack"

local walking = stage == "Steps" and not returning
local running = (stage == "Steps" or stage == "Promoting") and not returning
local pausedByUser = rollout ~= nil and rollout.pausedByUser == true
-- A pause that waits for a person, not for the clock.
local waiting = rollout ~= nil and rollout.pause ~= nil and rollout.pause.reason ~= "Timed"

actions["promote"] = {
  ["disabled"] = not walking,
  ["displayName"] = "Promote (next step)",
  ["iconClass"] = "fa fa-fw fa-forward",
}
actions["promote-full"] = {
  ["disabled"] = not walking,
  ["displayName"] = "Promote full (skip the remaining steps)",
  ["iconClass"] = "fa fa-fw fa-fast-forward",
}
actions["abort"] = {
  ["disabled"] = not running,
  ["displayName"] = "Abort (traffic back to the stable revision)",
  ["iconClass"] = "fa fa-fw fa-times-circle",
}
actions["pause"] = {
  ["disabled"] = not walking or pausedByUser,
  ["displayName"] = "Pause",
  ["iconClass"] = "fa fa-fw fa-pause",
}
actions["resume"] = {
  ["disabled"] = not walking or not (pausedByUser or waiting),
  ["displayName"] = "Resume",
  ["iconClass"] = "fa fa-fw fa-play",
}
actions["retry"] = {
  ["disabled"] = stage ~= "Aborted" or returning,
  ["displayName"] = "Retry (start the aborted rollout again)",
  ["iconClass"] = "fa fa-fw fa-redo",
}

return actions
