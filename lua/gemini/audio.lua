-- gemini.audio — WAV files (RIFF, PCM16LE) for the audio of Live sessions
-- and speech models: wav(pcm, rate, channels) writes one, unwav(bytes)
-- reads one.
local core = require "glrun.core"

local M = {}

local function bad(msg) return nil, core.error("input", msg) end

--- A WAV file (RIFF, PCM16LE) holding pcm: bytes of 16-bit samples.
function M.wav(pcm, rate, channels)
  if type(pcm) ~= "string" then error("gemini.audio.wav: expects PCM16 bytes (a string), not " .. type(pcm), 2) end
  rate, channels = rate or 24000, channels or 1
  return string.pack("<c4I4c4c4I4I2I2I4I4I2I2c4I4", "RIFF", 36 + #pcm, "WAVE", "fmt ", 16, 1, channels,
                     rate, rate * channels * 2, channels * 2, 16, "data", #pcm) .. pcm
end

--- The PCM16 samples of a WAV file's bytes: pcm, rate, channels — or
--- nil, err (kind "input") when it is not 16-bit PCM WAV.
function M.unwav(bytes)
  if type(bytes) ~= "string" then error("gemini.audio.unwav: expects the bytes of a WAV file, not " .. type(bytes), 2) end
  if #bytes < 12 or bytes:sub(1, 4) ~= "RIFF" or bytes:sub(9, 12) ~= "WAVE" then
    return bad("not a WAV file")
  end
  local pos, rate, channels, bits = 13, nil, nil, nil
  while pos + 8 <= #bytes + 1 do
    local id, size = string.unpack("<c4I4", bytes, pos)
    local body = pos + 8
    if id == "fmt " then
      if size < 16 or body + 15 > #bytes then return bad("the WAV fmt chunk is truncated") end
      local fmt
      fmt, channels, rate = string.unpack("<I2I2I4", bytes, body)
      bits = string.unpack("<I2", bytes, body + 14)
      if fmt ~= 1 or bits ~= 16 then return bad("only 16-bit PCM WAV is supported") end
    elseif id == "data" then
      if not rate then return bad("WAV data before its fmt chunk") end
      return bytes:sub(body, body + size - 1), rate, channels
    end
    pos = body + size + (size % 2)
  end
  return bad("no data chunk in the WAV file")
end

return M
