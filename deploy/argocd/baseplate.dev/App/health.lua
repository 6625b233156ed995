-- Argo CD health check for Baseplate Apps (baseplate.dev/App).
-- Healthy: Ready is True for the App's current generation.
-- Progressing: Baseplate has not yet reported on the current generation, or a rollout runs.
-- Degraded: anything else, with the message Baseplate wrote for a person to act on.
local hs = {}

local function find_condition(conditions, type_)
  if conditions == nil then
    return nil
  end
  for _, condition in ipairs(conditions) do
    if condition.type == type_ then
      return condition
    end
  end
  return nil
end

local status = obj.status
local generation = obj.metadata and obj.metadata.generation
local conditions = status and status.conditions
local ready = find_condition(conditions, "Ready")

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for Baseplate to reconcile the App"
  return hs
end

if generation ~= nil and ready.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for Baseplate to reconcile generation " .. tostring(generation)
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or ""
  return hs
end

local degraded = find_condition(conditions, "Degraded")
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = degraded.message or ready.message or ""
  return hs
end

local progressing = find_condition(conditions, "Progressing")
local rolling_out = progressing ~= nil and progressing.status == "True"
if rolling_out or ready.reason == "RolloutInProgress" or ready.reason == "MigrationRunning" then
  hs.status = "Progressing"
  hs.message = ready.message or ""
  return hs
end

hs.status = "Degraded"
hs.message = ready.message or ""
return hs
