/**
 * The phone's part of the Spotify sign-in the gadget shows as a QR code: Continue on the
 * relay's page, approve at (the fake) Spotify, back to the relay. The gadget's link names
 * the relay by publicUrl; the test reaches it at httpUrl. Resolves with the relay's last page.
 */
export async function signInOnPhone(sessionUrl: string, publicUrl: string, httpUrl: string): Promise<Response> {
  const toSpotify = await fetch(`${sessionUrl.replace(publicUrl, httpUrl)}/continue`, { method: 'POST', redirect: 'manual' });
  const back = await fetch(toSpotify.headers.get('location')!, { redirect: 'manual' });
  return fetch(back.headers.get('location')!.replace(publicUrl, httpUrl));
}
