-- Argo CD action "pause" for modeldeploy.io/ModelDeployment, like `kubectl modeldeploy pause`:
-- holds the rollout at its current step.
--
-- The request goes in the modeldeploy.io/request annotation, not in the spec, so GitOps tools
-- see no drift. The operator acts once per request id and answers in status.lastRequest. The id
-- is the time of the click, the action and the resourceVersion, which every write changes, so a
-- second click makes a new request.

local action = "pause"

local id = "argocd-" .. os.date("!%Y%m%dT%H%M%SZ") .. "-" .. action
-- Through tonumber, the id holds nothing that needs escaping in JSON.
local version = tonumber(obj.metadata.resourceVersion)
if version ~= nil then
  id = id .. "-" .. tostring(version)
end

if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["modeldeploy.io/request"] = "{\"id\":\"" .. id .. "\",\"action\":\"" .. action .. "\"}"
return obj
