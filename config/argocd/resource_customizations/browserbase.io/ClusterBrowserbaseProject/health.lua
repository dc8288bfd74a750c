-- Argo CD health for browserbase.io/ClusterBrowserbaseProject, read from the kstatus conditions the
-- operator writes. Stalled (an error a person must fix: a key Browserbase refused, an unknown
-- projectId) is Degraded; Ready is Healthy; anything else is
-- Progressing, with the operator's message.
-- Conditions are collected first and decided after, so their order does not matter.
local hs = {status = "Progressing", message = "Waiting for the operator to observe the ClusterBrowserbaseProject"}
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
if obj.metadata.generation ~= nil and obj.status.observedGeneration ~= obj.metadata.generation then
  hs.message = "Waiting for the operator to observe the latest spec"
  return hs
end
local ready, stalled, reconciling
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then
    ready = c
  elseif c.type == "Stalled" then
    stalled = c
  elseif c.type == "Reconciling" then
    reconciling = c
  end
end
if stalled ~= nil and stalled.status == "True" then
  return {status = "Degraded", message = stalled.message}
end
if ready ~= nil and ready.status == "True" then
  return {status = "Healthy", message = ready.message}
end
if reconciling ~= nil and reconciling.status == "True" and reconciling.message ~= nil then
  hs.message = reconciling.message
elseif ready ~= nil and ready.message ~= nil then
  hs.message = ready.message
end
return hs
