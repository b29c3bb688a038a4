/**
 * Base64 images and documents in a conversation: megabytes that say little in a log and may be private
 * (a photographed ID card, a contract). Unless conversations.store_media is on, the stored content keeps a
 * placeholder with the media type and the size instead.
 */

export interface Media {
  mediaType: string
  /** the base64 text (or its length, when only that is known) */
  base64: string
}

// data:<media type>[;param…];base64,<data> — OpenAI image_url urls and file parts
const DATA_URL = /^data:([^;,]{0,100})(?:;[^,]{0,200})?;base64,/i

/** The media in one JSON string value, by its key (OpenAI's file_data may be bare base64) or its data: URL. */
export function mediaOf(key: string, value: string): Media | null {
  const url = DATA_URL.exec(value)
  if (url) return { mediaType: url[1]!, base64: value.slice(url[0].length) }
  // a bare file_data is a PDF (the one document type the translation accepts as raw base64)
  if (key === 'file_data') return { mediaType: 'application/pdf', base64: value }
  return null
}

/** `[media not stored: image/png, 48213 bytes]` — the size decoded, the type only when it looks like one. */
export function mediaPlaceholder(media: Media): string {
  const type = /^[a-z]{1,20}\/[a-z0-9][a-z0-9.+-]{0,60}$/i.test(media.mediaType) ? media.mediaType.toLowerCase() : 'unknown type'
  const padding = media.base64.endsWith('==') ? 2 : media.base64.endsWith('=') ? 1 : 0
  return `[media not stored: ${type}, ${Math.floor((media.base64.length * 3) / 4) - padding} bytes]`
}
