-- Argo CD health check for modeldeploy.io/ModelDeployment.
--
-- Argo CD runs it with the global `obj` (the live resource) and only the base, table and os
-- (time and date) libraries: no string or math library, so the script does without them.
-- It must also run on Lua 5.1 (Argo CD's gopher-lua) and Lua 5.4 (the tests).

local hs = {}

local function condition(status, kind)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function holds(status, kind)
  local c = condition(status, kind)
  return c ~= nil and c.status == "True"
end

local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
local status = obj.status

-- The status describes an older spec, or none yet: nothing it says is about this spec.
if status == nil or (generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation)) then
  hs.status = "Progressing"
  if generation ~= nil then
    hs.message = "waiting for the operator to observe generation " .. tostring(generation)
  else
    hs.message = "waiting for the operator to observe the ModelDeployment"
  end
  return hs
end

local phase = status.phase
local rollout = status.rollout

-- The rollout cannot go on without a person or a spec change.
if holds(status, "Stalled") or phase == "Aborted" or phase == "Degraded" then
  hs.status = "Degraded"
  local stalled = condition(status, "Stalled")
  if status.message ~= nil and status.message ~= "" then
    hs.message = status.message
  elseif stalled ~= nil and stalled.message ~= nil and stalled.message ~= "" then
    hs.message = stalled.message
  else
    hs.message = "the ModelDeployment is degraded"
  end
  return hs
end

-- A pause: timed, waiting for a promotion, or asked for with the pause action.
local pause = nil
local pausedByUser = false
if rollout ~= nil and (rollout.stage == nil or rollout.stage == "Steps") then
  pause = rollout.pause
  pausedByUser = rollout.pausedByUser == true
end
if pause ~= nil or pausedByUser or phase == "Paused" then
  hs.status = "Suspended"
  if rollout == nil then
    hs.message = status.message or "paused"
    return hs
  end
  local reason = "ByUser"
  if pause ~= nil and pause.reason ~= nil then
    reason = pause.reason
  end
  local message = "revision " .. tostring(rollout.revision) .. " paused at step " .. tostring(rollout.step or "-") .. " (" .. reason
  -- `until` is a Lua keyword, hence the brackets.
  if pause ~= nil and pause["until"] ~= nil then
    message = message .. " until " .. pause["until"]
  end
  message = message .. ")"
  if reason == "ByUser" then
    message = message .. ": run the resume action to go on"
  elseif reason == "Indefinite" or reason == "AwaitingPromotion" then
    message = message .. ": run the promote action to go on"
  else
    message = message .. ": goes on by itself"
  end
  hs.message = message
  return hs
end

if holds(status, "Ready") and phase == "Healthy" then
  hs.status = "Healthy"
  hs.message = status.message or "serving"
  return hs
end

-- Pending, Progressing, Promoting, RollingBack, or replicas not ready yet.
hs.status = "Progressing"
hs.message = status.message or "rollout in progress"
return hs
